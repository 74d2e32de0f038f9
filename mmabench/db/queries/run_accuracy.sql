-- Accuracy (%), abstention (%) and unparsed (%) per run, condition and prompted modality.
SELECT run_id, model, condition, prompt_modality, count(*) AS n,
       round(100.0 * avg(CASE WHEN correct THEN 1 ELSE 0 END), 1) AS accuracy,
       round(100.0 * avg(CASE WHEN abstained THEN 1 ELSE 0 END), 1) AS abstention,
       round(100.0 * avg(CASE WHEN parse_status = 'unparsed' THEN 1 ELSE 0 END), 1) AS unparsed
FROM predictions_flat
WHERE error IS NULL
GROUP BY run_id, model, condition, prompt_modality
ORDER BY run_id, condition, prompt_modality;

-- Accuracy (%), abstention (%) and unparsed (%) per run, condition and prompted modality.
-- Reads predictions alone (each row carries its item's condition and modality; index ix_predictions_cell);
-- the same numbers as grouping predictions_flat, which joins five tables.
SELECT p.run_id, r.model, p.condition, p.prompt_modality, p.n, p.accuracy, p.abstention, p.unparsed
FROM (
  SELECT run_id, condition, prompt_modality, count(*) AS n,
         round(100.0 * avg(CASE WHEN correct THEN 1 ELSE 0 END), 1) AS accuracy,
         round(100.0 * avg(CASE WHEN abstained THEN 1 ELSE 0 END), 1) AS abstention,
         round(100.0 * avg(CASE WHEN parse_status = 'unparsed' THEN 1 ELSE 0 END), 1) AS unparsed
  FROM predictions
  WHERE error IS NULL
  GROUP BY run_id, condition, prompt_modality
) p
JOIN runs r ON r.id = p.run_id
ORDER BY p.run_id, p.condition, p.prompt_modality;

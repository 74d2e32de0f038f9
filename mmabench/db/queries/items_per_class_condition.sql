-- Items per visual class, condition and prompted modality.
SELECT build, visual_class, condition, prompt_modality, count(*) AS items
FROM items_flat
GROUP BY build, visual_class, condition, prompt_modality
ORDER BY build, visual_class, condition, prompt_modality;

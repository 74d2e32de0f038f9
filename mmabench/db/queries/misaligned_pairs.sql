-- Audio-swapped videos with both classes and their media (one row per variant).
SELECT DISTINCT variant_id, visual_class, audio_class, video_clip_id, audio_clip_id, media_path
FROM items_flat
WHERE condition = 'av_swap'
ORDER BY visual_class, audio_class, variant_id;

-- Stage-2 filter decisions with the clip they judged.
SELECT c.label, c.source_ref, d.kept, d.reason, d.filter_hash
FROM decisions d JOIN clips c ON c.id = d.clip_id
ORDER BY d.kept, c.label, c.source_ref;

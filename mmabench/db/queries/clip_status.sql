-- Ingest outcomes per source and status, with an example reason.
SELECT source, status, count(*) AS clips, min(error) AS example_error
FROM clips
GROUP BY source, status
ORDER BY source, status;

-- Every delivered delivery of the day has its charges, or is in the review queue.
SELECT charged + set_aside = delivered AS ok, delivered, charged, set_aside
FROM (SELECT
        (SELECT count(*) FROM erp.deliveries d
          WHERE d.delivery_date = nightshift.business_date() AND d.status = 'delivered') AS delivered,
        (SELECT count(*) FROM erp.delivery_charges c JOIN erp.deliveries d ON d.id = c.delivery_id
          WHERE d.delivery_date = nightshift.business_date() AND d.status = 'delivered') AS charged,
        (SELECT count(*) FROM nightshift.review_queue r JOIN erp.deliveries d ON d.id = r.record_key
          WHERE r.job = 'delivery_charges' AND r.business_date = nightshift.business_date() AND r.state <> 'resolved'
            AND NOT EXISTS (SELECT 1 FROM erp.delivery_charges c WHERE c.delivery_id = r.record_key)) AS set_aside) f

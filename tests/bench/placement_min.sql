-- The smallest plain-SQL placement of 3 lines (the list in the bench's brief): lock the 3
-- stock rows in primary-key order, reserve, insert the order, 3 lines, 3 movements, 1 event
-- and 1 notification. No customer lookup, no order-number counter (a random number, so
-- the clients do not queue on one row), no reservation rows. Printed next to placement.sql
-- to show what those cost; the ratio of `make bench` uses placement.sql, the same work as
-- order_place. Variables as in placement.sql, plus cust = one bench customer's id.
\set a :pmin + random(0, :nprod / 3 - 1)
\set b :pmin + :nprod / 3 + random(0, :nprod / 3 - 1)
\set d :pmin + 2 * (:nprod / 3) + random(0, :nprod / 3 - 1)
BEGIN;
SELECT id FROM inventory_stocklevel WHERE warehouse_id = :wh AND product_id IN (:a, :b, :d) ORDER BY id FOR UPDATE;
UPDATE inventory_stocklevel SET reserved = reserved + 1 WHERE warehouse_id = :wh AND product_id IN (:a, :b, :d);
INSERT INTO orders_order (
    created_at, updated_at, number, external_id, email, phone,
    ship_name, ship_line1, ship_line2, ship_city, ship_region, ship_postal_code, ship_country,
    currency, subtotal, tax_total, shipping_total, total,
    status, fulfillment_status, payment_status, hold_reason, hold_code, cancel_reason,
    shipping_method, payment_method, notes, lines_digest, status_token, placed_at, promised_ship_date, customer_id, channel_id)
VALUES (
    now(), now(), 'PGM-' || substr(md5(random()::text), 1, 24), '', 'bench0@example.com', '',
    'Ada Lovelace', 'Hafenstraße 12', '', 'Hamburg', '', '20457', 'DE',
    'EUR', 30.00, 5.70, 0.00, 35.70,
    'open', 'reserved', 'unpaid', '', '', '',
    'standard', 'card', '', '', md5(random()::text) || md5(random()::text), now(), current_date + 1, :cust, :channel)
RETURNING id AS order_id \gset
INSERT INTO orders_orderline (
    order_id, line_no, product_id, sku, name, unit_price, tax_rate, quantity, quantity_cancelled,
    quantity_reserved, quantity_backordered, quantity_shipped, quantity_delivered, quantity_returned, quantity_allocated)
SELECT :order_id, v.n, p.id, p.sku, p.name, p.price, p.tax_rate, 1, 0, 1, 0, 0, 0, 0, 0
  FROM inventory_product p JOIN (VALUES (1, :a), (2, :b), (3, :d)) AS v (n, pid) ON p.id = v.pid;
INSERT INTO inventory_stockmovement (kind, on_hand_delta, reserved_delta, reference, reason, created_at, product_id, warehouse_id)
SELECT 'reservation', 0, 1, 'order ' || :order_id, '', now(), v.pid, :wh
  FROM (VALUES (:a), (:b), (:d)) AS v (pid);
INSERT INTO orders_orderevent (order_id, type, source, message, customer_message, payload, visible_to_customer, created_at)
VALUES (:order_id, 'placed', 'api', 'Order placed through Bench API: 3 line(s), total 35.70 EUR.', 'Order placed. Thank you!',
        '{}', true, now());
INSERT INTO orders_notification (created_at, updated_at, order_id, kind, recipient, dedupe_key, payload, status, attempts, last_error, subject)
VALUES (now(), now(), :order_id, 'order_confirmation', 'bench0@example.com', :order_id || ':order_confirmation:', '{}', 'pending', 0, '', '');
END;

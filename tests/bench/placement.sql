-- One order placement of 3 lines, written as plain SQL: the baseline of `make bench`.
--
-- The same transaction as orders.services.order_place for a returning customer (address
-- already in the address book, no order with the same lines in the last 10 minutes, one
-- warehouse), on the real tables with valid foreign keys, statement for statement (the same
-- round trips as order_place on PostgreSQL):
--    1. find the customer by lower(email) (the unique index), whether the address is known,
--       whether a probable duplicate exists (the digest of the lines, as order_place), whether
--       the channel has the external id already, and take the next order number from the same
--       native sequence (orders_order_number_seq);
--    2. lock the 3 stock rows in primary-key order;
--    3. reserve them, write the 3 reservations and the 3 ledger movements (one statement);
--    4. the order;  5. its 3 lines;  6. the 2 timeline events;  7. the confirmation email row.
-- When order_place changes what it writes, change this file with it (the bench prints the
-- database's error if a column is missing).
--
-- Variables (pgbench -D): pmin = id of the first bench product, nprod = number of bench
-- products (a multiple of 3), ncust = number of bench customers, wh = warehouse id,
-- channel = sales channel id. Each order takes one product from each third of the range,
-- so the 3 ids are distinct and ascending.
\set c random(0, :ncust - 1)
\set a :pmin + random(0, :nprod / 3 - 1)
\set b :pmin + :nprod / 3 + random(0, :nprod / 3 - 1)
\set d :pmin + 2 * (:nprod / 3) + random(0, :nprod / 3 - 1)
\set e random(1, 9000000000000000000)
BEGIN;
SELECT c.id AS customer_id,
       EXISTS (SELECT 1 FROM customers_address a
                WHERE a.customer_id = c.id AND a.name = 'Ada Lovelace' AND a.line1 = 'Hafenstraße 12' AND a.line2 = ''
                  AND a.city = 'Hamburg' AND a.region = '' AND a.postal_code = '20457' AND a.country = 'DE' AND a.phone = '') AS address_known,
       EXISTS (SELECT 1 FROM customers_address b WHERE b.customer_id = c.id) AS has_addresses,
       coalesce((SELECT o.number FROM orders_order o
                  WHERE o.customer_id = c.id AND o.lines_digest = encode(sha256(convert_to((:a || 'x1;' || :b || 'x1;' || :d || 'x1'), 'UTF8')), 'hex')
                    AND o.placed_at >= now() - interval '10 minutes' AND o.status <> 'cancelled'
                  ORDER BY o.placed_at DESC LIMIT 1), '') AS duplicate_of,
       (SELECT t.number FROM orders_order t WHERE t.channel_id = :channel AND t.external_id = 'EXT-' || :e LIMIT 1) AS taken,
       10000 + nextval('orders_order_number_seq') AS seq
  FROM customers_customer c WHERE lower(c.email) = 'bench' || :c || '@example.com' \gset
SELECT l.id, l.on_hand, l.reserved, p.reorder_point, w.*
  FROM inventory_stocklevel l JOIN inventory_warehouse w ON w.id = l.warehouse_id
  JOIN inventory_product p ON p.id = l.product_id
 WHERE w.active AND l.product_id IN (:a, :b, :d)
 ORDER BY l.id FOR UPDATE OF l;
WITH levels AS (
    UPDATE inventory_stocklevel SET reserved = reserved + 1 WHERE warehouse_id = :wh AND product_id IN (:a, :b, :d) RETURNING 1
), reservations AS (
    INSERT INTO inventory_reservation (created_at, updated_at, demand_ref, quantity, product_id, warehouse_id)
    SELECT now(), now(), 'order:' || 'PGB-' || :seq || ':' || v.n, 1, v.pid, :wh
      FROM (VALUES (1, :a), (2, :b), (3, :d)) AS v (n, pid)
    RETURNING 1
)
INSERT INTO inventory_stockmovement (kind, on_hand_delta, reserved_delta, reference, reason, created_at, product_id, warehouse_id)
SELECT 'reservation', 0, 1, 'PGB-' || :seq, '', now(), v.pid, :wh
  FROM (VALUES (:a), (:b), (:d)) AS v (pid);
INSERT INTO orders_order (
    created_at, updated_at, number, external_id, email, phone,
    ship_name, ship_line1, ship_line2, ship_city, ship_region, ship_postal_code, ship_country,
    currency, subtotal, tax_total, shipping_total, total,
    status, fulfillment_status, payment_status, hold_reason, hold_code, cancel_reason,
    shipping_method, payment_method, notes, lines_digest, status_token, placed_at, promised_ship_date, customer_id, channel_id)
VALUES (
    now(), now(), 'PGB-' || :seq, 'EXT-' || :e, 'bench' || :c || '@example.com', '',
    'Ada Lovelace', 'Hafenstraße 12', '', 'Hamburg', '', '20457', 'DE',
    'EUR', 30.00, 5.70, 0.00, 35.70,
    'open', 'reserved', 'unpaid', '', '', '',
    'standard', 'card', '', encode(sha256(convert_to((:a || 'x1;' || :b || 'x1;' || :d || 'x1'), 'UTF8')), 'hex'),
    md5(random()::text) || md5(random()::text), now(), current_date + 1, :customer_id, :channel)
RETURNING id AS order_id \gset
INSERT INTO orders_orderline (
    order_id, line_no, product_id, sku, name, unit_price, tax_rate, quantity, quantity_cancelled,
    quantity_reserved, quantity_backordered, quantity_shipped, quantity_delivered, quantity_returned, quantity_allocated)
SELECT :order_id, v.n, p.id, p.sku, p.name, p.price, p.tax_rate, 1, 0, 1, 0, 0, 0, 0, 0
  FROM inventory_product p JOIN (VALUES (1, :a), (2, :b), (3, :d)) AS v (n, pid) ON p.id = v.pid;
INSERT INTO orders_orderevent (order_id, type, source, message, customer_message, payload, visible_to_customer, created_at)
VALUES (:order_id, 'placed', 'api', 'Order placed through Bench API: 3 line(s), total 35.70 EUR.', 'Order placed. Thank you!',
        '{"channel": "bench-api", "lines": [{"sku": "x", "quantity": 1}, {"sku": "y", "quantity": 1}, {"sku": "z", "quantity": 1}]}', true, now()),
       (:order_id, 'reserved', 'system', 'Ships complete from BEN (Bench warehouse).', '',
        '{"allocations": {}}', false, now());
INSERT INTO orders_notification (created_at, updated_at, order_id, kind, recipient, dedupe_key, payload, status, attempts, last_error, subject)
VALUES (now(), now(), :order_id, 'order_confirmation', 'bench' || :c || '@example.com',
        :order_id || ':order_confirmation:', '{}', 'pending', 0, '', '');
END;

-- Features of the addresses in table `targets(address)` from the canonical tables.
-- Era-invariant by construction: no absolute timestamp, block number or gas price level is
-- used, only counts, shares, amounts, durations and gaps (shifting every timestamp and block
-- by a constant changes nothing).
WITH t AS (
    SELECT x.address AS account, tx.from_address AS src, tx.to_address AS dst,
           tx.timestamp AS ts, CAST(tx.value_wei AS DOUBLE) / 1e18 AS eth,
           1 - tx.status AS err, tx.input, tx.method_id, tx.gas, tx.gas_used, tx.nonce,
           tx.contract_address, tx.from_address = x.address AS outgoing
    FROM targets x JOIN transactions tx
      ON tx.from_address = x.address OR tx.to_address = x.address
),
gaps AS (
    SELECT account, ts - lag(ts) OVER (PARTITION BY account ORDER BY ts) AS gap FROM t
),
forward AS (
    SELECT account, next_out - ts AS delay FROM (
        SELECT account, ts, outgoing,
               min(CASE WHEN outgoing THEN ts END) OVER (
                   PARTITION BY account ORDER BY ts
                   ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS next_out
        FROM t)
    WHERE NOT outgoing AND next_out IS NOT NULL
),
peers AS (
    SELECT account, max(c) / sum(c) AS top_peer_share FROM (
        SELECT account, CASE WHEN outgoing THEN dst ELSE src END AS peer, count(*) AS c
        FROM t GROUP BY ALL)
    GROUP BY account
),
a AS (
    SELECT account,
        count(*) AS n_tx,
        sum(outgoing::INT) AS n_out,
        avg(outgoing::INT) AS out_share,
        count(DISTINCT CASE WHEN outgoing THEN dst END) AS uniq_dst,
        count(DISTINCT CASE WHEN NOT outgoing THEN src END) AS uniq_src,
        avg(err) AS fail_rate,
        avg((input <> '0x')::INT) AS call_share,
        count(DISTINCT method_id) AS uniq_methods,
        sum((contract_address IS NOT NULL)::INT) AS creations,
        avg(eth) AS mean_eth, max(eth) AS max_eth, median(eth) AS med_eth, stddev(eth) AS sd_eth,
        avg(CASE WHEN outgoing THEN eth END) AS mean_out_eth,
        avg(CASE WHEN NOT outgoing THEN eth END) AS mean_in_eth,
        sum(CASE WHEN outgoing THEN eth ELSE 0 END) AS sum_out,
        sum(CASE WHEN NOT outgoing THEN eth ELSE 0 END) AS sum_in,
        avg((eth = 0)::INT) AS zero_share,
        max(ts) - min(ts) AS span,
        avg(gas_used / nullif(gas, 0)) AS gas_ratio,
        avg(gas_used) AS mean_gas_used,
        max(CASE WHEN outgoing THEN nonce END) AS max_nonce,
        avg((eth > 0 AND round(eth * 100) = eth * 100)::INT) AS round_share,
        count(DISTINCT CASE WHEN NOT outgoing THEN src END)
            / greatest(sum((NOT outgoing)::INT), 1) AS in_uniq_ratio,
        ln(1 + sum(CASE WHEN outgoing THEN eth ELSE 0 END))
            - ln(1 + sum(CASE WHEN NOT outgoing THEN eth ELSE 0 END)) AS log_flow_ratio,
        avg((src = dst)::INT) AS self_share,
        count(DISTINCT CASE WHEN outgoing THEN dst ELSE src END) / count(*) AS peer_ratio
    FROM t GROUP BY account
),
g AS (
    SELECT account, avg(gap) AS mean_gap, median(gap) AS med_gap, min(gap) AS min_gap,
           max(gap) AS max_gap, stddev(gap) AS sd_gap, avg((gap < 60)::INT) AS burst_share
    FROM gaps WHERE gap IS NOT NULL GROUP BY account
),
tok AS (
    SELECT x.address AS account, count(*) AS n_tok, count(DISTINCT e.token) AS uniq_tok,
           avg((e.from_address = x.address)::INT) AS tok_out_share,
           avg((e.value = '0')::INT) AS tok_zero_share,
           avg((regexp_matches(lower(coalesce(e.token_name, '') || ' ' || coalesce(e.token_symbol, '')),
               '(http|www|\.com|\.io|\.net|claim|visit|airdrop|reward|\$)'))::INT) AS tok_spam_share,
           count(DISTINCT e.from_address) AS tok_uniq_src
    FROM targets x JOIN erc20_transfers e
      ON e.from_address = x.address OR e.to_address = x.address
    GROUP BY x.address
),
fw AS (
    SELECT account, median(delay) AS med_forward_delay,
           avg((delay < 3600)::INT) AS fast_forward_share
    FROM forward GROUP BY account
)
SELECT x.address,
       a.* EXCLUDE (account), g.* EXCLUDE (account), tok.* EXCLUDE (account),
       fw.* EXCLUDE (account), p.top_peer_share,
       a.n_tx / (a.span / 86400.0 + 1) AS tx_per_day
FROM targets x
LEFT JOIN a ON a.account = x.address
LEFT JOIN g ON g.account = x.address
LEFT JOIN tok ON tok.account = x.address
LEFT JOIN fw ON fw.account = x.address
LEFT JOIN peers p ON p.account = x.address
ORDER BY x.address

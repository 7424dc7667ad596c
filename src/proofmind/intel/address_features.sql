-- Features of the addresses in table `targets(address)` from the canonical tables.
-- Era-invariant by construction: no absolute timestamp, block number or gas price level is
-- used, only counts, shares, amounts, durations and gaps (shifting every timestamp and block
-- by a constant changes nothing).
--
-- Early warning (`features_sql(first_n=N)` in fraud.py): each account keeps only its first N
-- transactions (in time order) and the token transfers up to the N-th of them, at the two
-- `-- @…` markers below; nothing later can reach its features.
--
-- Bit-identical on every run and machine, whatever the number of DuckDB threads: a parallel
-- aggregate adds its rows in whatever order the threads deliver them, and floating-point
-- addition is not associative. So amounts are summed exactly as integers (wei as HUGEINT,
-- whatever type the Parquet column has: DECIMAL(38, 0) now, DOUBLE or text in tables written
-- by earlier versions) and turned into ether once (through their decimal text, the one conversion to
-- DOUBLE that DuckDB and Spark both round correctly: DuckDB's HUGEINT cast can be an ulp off); integer averages (shares, counts) are exact already; the few
-- floating-point reductions left (standard deviations, the gas ratio) reduce a sorted list,
-- and every window orders its rows totally (timestamp, then position in the block, then hash).
-- An account's transactions are the union of two equi-joins (sent, and received from someone
-- else) rather than one OR-join: a hash join on each side, where an OR condition forces a
-- nested-loop join (DuckDB, Spark SQL alike). A self-transfer appears once, as sent; a genesis
-- allocation (no sender) is received.
WITH mine AS (
    SELECT x.address AS account, tx.*
    FROM targets x JOIN transactions tx ON tx.from_address = x.address
    UNION ALL
    SELECT x.address AS account, tx.*
    FROM targets x JOIN transactions tx ON tx.to_address = x.address
    WHERE tx.from_address IS DISTINCT FROM x.address
),
t AS (
    SELECT account, from_address AS src, to_address AS dst,
           timestamp AS ts, tx_index, hash, CAST(value_wei AS HUGEINT) AS wei,
           CAST(CAST(CAST(value_wei AS HUGEINT) AS VARCHAR) AS DOUBLE) / 1e18 AS eth,
           1 - status AS err, input, method_id, gas, gas_used, nonce,
           contract_address, coalesce(from_address = account, false) AS outgoing
    FROM mine -- @first_n
),
gaps AS (
    SELECT account, ts - lag(ts) OVER (PARTITION BY account ORDER BY ts, tx_index, hash) AS gap
    FROM t
),
forward AS (
    SELECT account, next_out - ts AS delay FROM (
        SELECT account, ts, outgoing,
               min(CASE WHEN outgoing THEN ts END) OVER (
                   PARTITION BY account ORDER BY ts, tx_index, hash
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
        CAST(CAST(sum(wei) AS VARCHAR) AS DOUBLE) / count(*) / 1e18 AS mean_eth,
        max(eth) AS max_eth, median(eth) AS med_eth,
        list_aggregate(list_sort(list(eth)), 'stddev_samp') AS sd_eth,
        CAST(CAST(sum(CASE WHEN outgoing THEN wei END) AS VARCHAR) AS DOUBLE)
            / count(CASE WHEN outgoing THEN 1 END) / 1e18 AS mean_out_eth,
        CAST(CAST(sum(CASE WHEN NOT outgoing THEN wei END) AS VARCHAR) AS DOUBLE)
            / count(CASE WHEN NOT outgoing THEN 1 END) / 1e18 AS mean_in_eth,
        CAST(CAST(sum(CASE WHEN outgoing THEN wei ELSE 0 END) AS VARCHAR) AS DOUBLE) / 1e18 AS sum_out,
        CAST(CAST(sum(CASE WHEN NOT outgoing THEN wei ELSE 0 END) AS VARCHAR) AS DOUBLE) / 1e18 AS sum_in,
        avg((eth = 0)::INT) AS zero_share,
        max(ts) - min(ts) AS span,
        list_aggregate(list_sort(list(gas_used / nullif(gas, 0))), 'avg') AS gas_ratio,
        avg(gas_used) AS mean_gas_used,
        max(CASE WHEN outgoing THEN nonce END) AS max_nonce,
        avg((eth > 0 AND round(eth * 100) = eth * 100)::INT) AS round_share,
        count(DISTINCT CASE WHEN NOT outgoing THEN src END)
            / greatest(sum((NOT outgoing)::INT), 1) AS in_uniq_ratio,
        -- one logarithm of the quotient, not a difference of two: no cancellation to
        -- magnify a last-bit difference between two engines' ln
        ln((1 + CAST(CAST(sum(CASE WHEN outgoing THEN wei ELSE 0 END) AS VARCHAR) AS DOUBLE) / 1e18)
            / (1 + CAST(CAST(sum(CASE WHEN NOT outgoing THEN wei ELSE 0 END) AS VARCHAR) AS DOUBLE) / 1e18))
            AS log_flow_ratio,
        avg((src = dst)::INT) AS self_share,
        count(DISTINCT CASE WHEN outgoing THEN dst ELSE src END) / count(*) AS peer_ratio
    FROM t GROUP BY account
),
g AS (
    SELECT account, avg(gap) AS mean_gap, median(gap) AS med_gap, min(gap) AS min_gap,
           max(gap) AS max_gap, list_aggregate(list_sort(list(gap)), 'stddev_samp') AS sd_gap,
           avg((gap < 60)::INT) AS burst_share
    FROM gaps WHERE gap IS NOT NULL GROUP BY account
),
tok AS (
    SELECT account, count(*) AS n_tok, count(DISTINCT token) AS uniq_tok,
           avg((from_address = account)::INT) AS tok_out_share,
           avg((value = '0')::INT) AS tok_zero_share,
           avg((regexp_matches(lower(coalesce(token_name, '') || ' ' || coalesce(token_symbol, '')),
               '(http|www|\.com|\.io|\.net|claim|visit|airdrop|reward|\$)'))::INT) AS tok_spam_share,
           count(DISTINCT from_address) AS tok_uniq_src
    FROM (
        SELECT x.address AS account, e.*
        FROM targets x JOIN erc20_transfers e ON e.from_address = x.address
        UNION ALL
        SELECT x.address AS account, e.*
        FROM targets x JOIN erc20_transfers e ON e.to_address = x.address
        WHERE e.from_address IS DISTINCT FROM x.address
    ) -- @tokens_until_first_n
    GROUP BY account
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

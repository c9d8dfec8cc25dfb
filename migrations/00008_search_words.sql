-- The search vocabulary: the lexemes of tasks.search, with the share of
-- tasks that hold each, under a trigram index. searchTasks falls back to
-- it when a query matches nothing: each misspelled word is replaced by the
-- most similar word here, a lookup among thousands of words instead of a
-- trigram match against a million titles, which took seconds there (see
-- repository/search.go). So the trigram index on titles goes: no query
-- uses it any more, and it was the most expensive index to keep up. The
-- shares also tell searchTasks how common a query is (search_frequency).
--
-- Writes of a task add its new words in their transaction;
-- refresh_search_words recounts and drops words no task holds any more:
-- the seed calls it after loading, `herotasks maintain` (hourly in serve)
-- on every run.
--
-- No transaction, for DROP INDEX CONCURRENTLY; every statement can run
-- again after a failure.

-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE IF NOT EXISTS search_words (
    word  text PRIMARY KEY,
    share real NOT NULL -- of the tasks the last refresh sampled; 0 for a word added since
);
CREATE INDEX IF NOT EXISTS search_words_word_trgm_idx ON search_words USING gin (word gin_trgm_ops);

-- Rebuilds search_words from about `sample` tasks (all of them when the
-- table is smaller; otherwise a block sample, so a word found only in a
-- few tasks of a very large table may wait for a later refresh). Only
-- alphabetic lexemes of three letters or more: numbers and identifiers
-- are not misspelled words.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION refresh_search_words(sample bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    total   double precision;
    sampled bigint;
    n       bigint;
BEGIN
    SELECT reltuples INTO total FROM pg_class WHERE oid = 'tasks'::regclass;
    IF total IS NULL OR total < 0 THEN
        SELECT count(*) INTO total FROM tasks;
    END IF;
    CREATE TEMP TABLE search_sample ON COMMIT DROP AS
        SELECT search FROM tasks TABLESAMPLE SYSTEM (least(100, 100 * sample / greatest(total, 1))) REPEATABLE (0);
    SELECT count(*) INTO sampled FROM search_sample;
    DELETE FROM search_words;
    INSERT INTO search_words (word, share)
    SELECT s.word, s.ndoc::real / greatest(sampled, 1) FROM ts_stat('SELECT search FROM search_sample') s
    WHERE s.word ~ '^[a-z]{3,}$';
    GET DIAGNOSTICS n = ROW_COUNT;
    DROP TABLE search_sample;
    RETURN n;
END
$$;
-- +goose StatementEnd

SELECT refresh_search_words(100000);

-- An upper bound of the share of tasks that match q: the smallest share
-- among its lexemes (a lexeme outside the vocabulary counts as rare); 1
-- for a query without lexemes. searchTasks uses it to decide whether the
-- newest tasks are worth walking for matches (see repository/search.go).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION search_frequency(q tsquery) RETURNS double precision LANGUAGE sql STABLE AS $$
    SELECT coalesce(min(coalesce(w.share, 0)), 1)
    FROM regexp_matches(q::text, '''((?:[^'']|'''')+)''', 'g') AS m
    LEFT JOIN search_words w ON w.word = m[1]
$$;
-- +goose StatementEnd

DROP INDEX CONCURRENTLY IF EXISTS tasks_title_trgm_idx;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_title_trgm_idx ON tasks USING gin (title gin_trgm_ops);
DROP FUNCTION IF EXISTS search_frequency(tsquery);
DROP FUNCTION IF EXISTS refresh_search_words(bigint);
DROP TABLE IF EXISTS search_words;

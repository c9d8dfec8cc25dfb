-- The full-text index takes new entries into its pending list (GIN's fast
-- update) and merges them into its trees only when the list outgrows
-- gin_pending_list_limit (4 MB by default) or a vacuum runs. Every search
-- reads the whole list, and every update of a task adds all of its lexemes
-- to it: no update of tasks is HOT, since updated_at, which is indexed,
-- changes each time. Under a frontend's writes the list grew by about 25
-- pages a second, and a two-word search that matches a dozen tasks spent
-- most of its time reading it (three times its cost with the list empty).
-- 64 kB is the smallest limit: the insert that overflows it merges the list,
-- a few pages at a time, and updates cost what they did (with fast update
-- off, each update writing its lexemes into the trees cost a third more).

-- +goose Up
ALTER INDEX tasks_search_idx SET (gin_pending_list_limit = 64);

-- +goose Down
ALTER INDEX tasks_search_idx RESET (gin_pending_list_limit);

package seed

// Word lists the generator composes titles, descriptions, names and tags
// from. Changing any list changes the generated data for every seed.

// component is a part of the product a task is about, with the tag that
// names its area.
type component struct {
	name string // as it reads mid-sentence: "payments webhook"
	tag  string // area tag (must be in tagNames)
}

var components = []component{
	{"payments webhook", "payments"}, {"checkout flow", "checkout"}, {"session cache", "auth"},
	{"login page", "auth"}, {"search indexer", "search"}, {"notification service", "notifications"},
	{"billing API", "billing"}, {"user profile page", "frontend"}, {"GraphQL gateway", "graphql"},
	{"task list query", "api"}, {"CSV export", "export"}, {"audit log", "audit"},
	{"email digest job", "email"}, {"mobile onboarding", "onboarding"}, {"admin dashboard", "admin"},
	{"rate limiter", "infra"}, {"image upload service", "storage"}, {"invoice generator", "invoicing"},
	{"feature flag service", "feature-flags"}, {"order events consumer", "kafka"},
	{"Postgres connection pool", "postgres"}, {"Redis cache layer", "redis"}, {"CI pipeline", "ci"},
	{"Kubernetes deployment", "k8s"}, {"Terraform modules", "terraform"}, {"analytics ingestion", "analytics"},
	{"SSO integration", "sso"}, {"permissions model", "permissions"}, {"webhook delivery worker", "webhooks"},
	{"settings page", "settings"}, {"public REST API", "rest"}, {"subscription renewal job", "subscriptions"},
	{"translation bundles", "i18n"}, {"password reset flow", "auth"}, {"two-factor authentication", "2fa"},
	{"data retention job", "retention"}, {"warehouse sync", "warehouse"}, {"Slack integration", "integrations"},
	{"iOS app", "ios"}, {"Android app", "android"}, {"refund processor", "refunds"},
	{"pricing page", "pricing"}, {"signup form", "signup"}, {"API key management", "api-keys"},
	{"WebSocket gateway", "websocket"}, {"cron scheduler", "cron"}, {"PDF report renderer", "pdf"},
	{"CDN configuration", "cdn"}, {"TLS certificate renewal", "tls"}, {"secrets manager", "secrets"},
	{"backup job", "backup"}, {"read replica", "replication"}, {"recommendation engine", "recommendations"},
	{"trial expiry job", "trials"}, {"task detail view", "web"}, {"design system buttons", "design-system"},
	{"SCIM provisioning", "scim"}, {"OAuth token endpoint", "oauth"}, {"tracing pipeline", "tracing"},
	{"log shipping agent", "logging"}, {"metrics exporter", "metrics"}, {"alert routing rules", "alerts"},
	{"import wizard", "import"}, {"customer dashboard", "dashboard"}, {"SMS sender", "sms"},
	{"job queue", "queue"}, {"ETL pipeline", "etl"}, {"timezone handling", "timezone"},
	{"offline sync", "offline"}, {"dark mode theme", "dark-mode"}, {"marketing site", "marketing-site"},
	{"build system", "build"}, {"release tooling", "release"}, {"support inbox", "support"},
}

var features = []string{
	"rate limiting", "cursor pagination", "bulk actions", "dark mode support", "CSV import", "audit logging",
	"retries with exponential backoff", "idempotency keys", "saved search filters", "keyboard shortcuts",
	"request signing", "usage metrics", "an export endpoint", "SAML login", "soft delete", "draft autosave",
	"per-tenant quotas", "webhook replay", "inline editing", "a preview mode", "role-based access checks",
	"email notifications", "a health check endpoint", "optimistic locking", "field-level validation",
}

var bugs = []string{
	"race condition", "memory leak", "off-by-one error", "timezone bug", "N+1 query", "deadlock",
	"nil pointer panic", "stale cache entries", "duplicate notifications", "broken pagination",
	"incorrect rounding", "unicode handling bug", "goroutine leak", "lost update", "double submit",
	"missing index", "wrong HTTP status code", "infinite retry loop", "session fixation", "encoding error",
}

var bugPlaces = []string{
	"invalidation", "startup", "shutdown", "retry path", "error handling", "cleanup job", "batch mode",
	"cache warmup", "reconnect logic", "first request", "migration", "serialization",
}

var bugConditions = []string{
	"the cart is empty", "the token has expired", "the locale is missing", "two requests race",
	"the payload exceeds 1 MB", "the user has no email", "the upstream times out", "the page size is 0",
	"the tenant is suspended", "daylight saving time starts", "the name contains emoji", "the replica lags",
}

var patterns = []string{
	"dependency injection", "the new repository layer", "structured logging", "context cancellation",
	"generics", "an explicit state machine", "table-driven tests", "the shared HTTP client",
	"typed configuration", "the outbox pattern", "small interfaces",
}

var extractables = []string{
	"validation logic", "retry helpers", "SQL builders", "the pricing rules", "permission checks",
	"date formatting", "the event publisher", "feature flag lookups",
}

var docThings = []string{
	"error codes", "retry semantics", "on-call runbook", "architecture", "configuration options",
	"API examples", "rate limits", "data model", "failure modes", "local setup",
}

var secrets = []string{"API keys", "database credentials", "signing keys", "OAuth client secrets", "TLS certificates", "webhook secrets"}

var cves = []string{"CVE-2024-24790", "CVE-2023-44487", "CVE-2024-45337", "CVE-2024-34156", "CVE-2023-39325", "CVE-2024-3094"}

var vendors = []string{"Stripe", "Slack", "PagerDuty", "Salesforce", "Zendesk", "Segment", "Twilio", "SendGrid", "GitHub", "Jira", "Okta", "Datadog"}

var migrations = [][2]string{
	{"MySQL", "PostgreSQL"}, {"REST", "GraphQL"}, {"Redis 6", "Redis 7"}, {"PostgreSQL 13", "PostgreSQL 16"},
	{"Webpack", "Vite"}, {"Jenkins", "GitHub Actions"}, {"EC2", "Kubernetes"}, {"moment.js", "date-fns"},
	{"cron jobs", "the job queue"}, {"JSON columns", "typed tables"}, {"Enzyme", "Testing Library"},
	{"Travis CI", "GitHub Actions"}, {"self-hosted Elasticsearch", "OpenSearch"},
}

var upgrades = []string{
	"pgx to v5", "React to 19", "Node.js to 22", "the Go toolchain", "OpenSSL", "Terraform providers",
	"base Docker images", "the Kafka client", "Helm charts", "TypeScript to 5.6", "the ORM", "Python dependencies",
}

var techs = []string{
	"ClickHouse", "OpenTelemetry", "pgvector", "Temporal", "NATS", "gRPC streaming", "WebAssembly plugins",
	"edge caching", "logical replication", "server-sent events", "Bloom filters", "CRDTs",
}

var metricsNames = []string{"error rate", "queue depth", "p95 latency", "saturation", "5xx responses", "consumer lag", "cache hit ratio", "disk usage"}

var envs = []string{"staging", "production", "eu-west-1", "us-east-1", "ap-southeast-2", "the beta cohort"}

var limitations = []string{
	"has no automated tests", "does everything in a single transaction", "reads its configuration at startup only",
	"has no metrics", "has no clear owner", "retries forever on failure", "holds a global lock",
	"loads the whole result set into memory", "is hard to test locally", "duplicates logic from the API",
}

var symptoms = []string{
	"intermittently returns 500s", "shows stale data after an update", "times out under load",
	"drops events during deploys", "logs a panic on shutdown", "leaks connections when the client disconnects",
	"renders dates in the wrong timezone", "sends the same email twice", "ignores the page size",
}

var approaches = []string{
	"put it behind a feature flag", "add a migration and backfill in batches of 10k rows",
	"reuse the existing retry helper", "add a partial index and check the plan with `EXPLAIN ANALYZE`",
	"split the work into two PRs", "pair with the on-call engineer", "write a failing test first",
	"ship it dark and compare results in shadow mode", "roll it out to 5% of tenants first",
}

var doneWhen = []string{
	"the error rate stays below 0.1% for a week", "the dashboard shows p99 under 200 ms",
	"all tests pass in CI", "the change is in the changelog", "support confirms the customer issue is resolved",
	"the runbook is updated", "the alert has not fired for 7 days", "the old code path is deleted",
}

var checklist = []string{
	"update the API docs", "add metrics", "add a regression test", "notify support", "update the runbook",
	"clean up the feature flag", "review with security", "verify on staging", "add a dashboard panel",
}

var initiatives = []string{"Q3 reliability", "self-serve onboarding", "enterprise readiness", "cost reduction", "EU data residency", "mobile parity"}

// subtaskSteps are subtask titles in the order work usually happens; a task
// picks a few and keeps their order.
var subtaskSteps = []string{
	"Reproduce the issue", "Write a design doc", "Agree on the approach", "Spike a prototype",
	"Add database migration", "Implement the change", "Handle error cases", "Add feature flag",
	"Write unit tests", "Write integration tests", "Update API documentation", "Add metrics and alerts",
	"Code review", "Update the runbook", "Deploy to staging", "QA on staging", "Deploy to production",
	"Verify in production", "Clean up feature flag", "Update the changelog", "Notify support team",
}

var subtaskNotes = []string{
	"Keep the change small enough to review in one sitting.",
	"Ask the on-call engineer before rolling out.",
	"Check the dashboard for regressions after the deploy.",
	"Link the PR here when it is up.",
	"Use the staging tenant `acme-test`.",
	"See the design doc for the edge cases.",
	"Coordinate the timing with support.",
}

var blockedReasons = []string{
	"Waiting on the security review", "Blocked by an upstream API change", "Waiting for design sign-off",
	"Needs a decision from product", "Waiting on infrastructure capacity", "Depends on a vendor fix",
}

var cancelReasons = []string{
	"No longer needed", "Superseded by a newer task", "Duplicate", "Out of scope for this quarter", "Won't fix: works as intended",
}

var reopenReasons = []string{"Regression found in staging", "Customer reported the issue again", "Follow-up needed after review"}

var firstNames = []string{
	"Ava", "Liam", "Noah", "Emma", "Olivia", "Mateo", "Sofia", "Lucas", "Mia", "Ethan", "Amara", "Kenji",
	"Priya", "Arjun", "Fatima", "Omar", "Chen", "Wei", "Yuki", "Hana", "Lena", "Jonas", "Elif", "Mehmet",
	"Ingrid", "Lars", "Chiara", "Marco", "Zoe", "Leo", "Nadia", "Ivan", "Aisha", "Tariq", "Sara", "David",
	"Grace", "Samuel", "Maya", "Daniel", "Chloe", "Oscar", "Isla", "Felix", "Nora", "Hugo", "Alice", "Theo",
	"Rosa", "Diego", "Lucia", "Pablo", "Anya", "Mikhail", "Keira", "Ravi", "Mei", "Jin", "Tomas", "Ines",
}

var lastNames = []string{
	"Smith", "Garcia", "Nguyen", "Kim", "Patel", "Müller", "Rossi", "Silva", "Kowalski", "Johansson",
	"Okafor", "Tanaka", "Chen", "Haddad", "Novak", "Dubois", "Fernandez", "Ivanova", "Larsen", "O'Brien",
	"Schmidt", "Yilmaz", "Sato", "Costa", "Andersen", "Moreau", "Jansen", "Rahman", "Mensah", "Walker",
	"Hughes", "Bianchi", "Svensson", "Kaur", "Lopez", "Park", "Wang", "Ali", "Murphy", "Romero",
	"Fischer", "Nakamura", "Adeyemi", "Petrov", "Horvat", "Lindqvist", "Barros", "Cohen", "Singh", "Zhou",
}

// tagNames are the 200 tags, most popular first (the generator draws tags
// with a Zipf-like weight on this order).
var tagNames = []string{
	"backend", "frontend", "api", "bug", "tech-debt", "p2", "customer-reported", "needs-review", "p1",
	"web", "database", "auth", "payments", "security", "performance", "tests", "docs", "infra",
	"p3", "quick-win", "regression", "needs-triage", "mobile", "graphql", "billing", "notifications",
	"search", "ux", "p0", "ios", "android", "postgres", "redis", "k8s", "ci", "observability",
	"team-core", "team-platform", "team-growth", "team-payments", "team-mobile", "team-data", "team-sre",
	"team-security", "team-web", "team-integrations", "checkout", "export", "audit", "email",
	"onboarding", "admin", "storage", "invoicing", "feature-flags", "kafka", "terraform", "analytics",
	"sso", "permissions", "webhooks", "settings", "rest", "subscriptions", "i18n", "2fa", "retention",
	"warehouse", "integrations", "refunds", "pricing", "signup", "api-keys", "websocket", "cron", "pdf",
	"cdn", "tls", "secrets", "backup", "replication", "recommendations", "trials", "design-system",
	"scim", "oauth", "tracing", "logging", "metrics", "alerts", "import", "dashboard", "sms", "queue",
	"etl", "timezone", "offline", "dark-mode", "marketing-site", "build", "release", "support",
	"feature", "refactor", "hotfix", "needs-design", "needs-qa", "good-first-issue", "help-wanted",
	"blocked-external", "duplicate", "sev1", "sev2", "sev3", "epic", "spike", "breaking-change",
	"backport", "release-blocker", "v2.0", "v2.1", "v2.2", "v3.0", "staging", "production", "eu-west-1", "us-east-1", "ap-southeast-2", "go", "typescript", "python", "react", "sql", "rust",
	"swift", "kotlin", "customer-acme", "customer-globex", "customer-initech", "customer-umbrella",
	"customer-hooli", "customer-stark", "accessibility", "dependencies", "upgrade", "migration",
	"deprecation", "gdpr", "soc2", "pci", "cost", "on-call", "incident", "postmortem", "runbook", "slo",
	"flaky-test", "e2e", "load-test", "experiment", "ab-test", "rbac", "rate-limit", "pagination",
	"grpc", "batch", "backfill", "dbt", "ml", "seo", "dns", "vault", "iam", "aws", "gcp", "docker",
	"helm", "github-actions", "monorepo", "changelog", "sales-request", "partner", "legal", "privacy",
	"archival", "s3", "images", "csv", "localization", "rtl", "mobile-web", "sync", "memory", "latency", "n-plus-one", "indexing", "vacuum", "failover", "disaster-recovery", "caching",
}

// typeTags is the tag a task of a given type often carries.
var typeTags = map[string]string{
	"FEATURE": "feature", "BUG_FIX": "bug", "REFACTOR": "refactor", "DOCUMENTATION": "docs",
	"TEST": "tests", "SECURITY": "security", "PERFORMANCE": "performance", "INTEGRATION": "integrations",
	"MIGRATION": "migration", "MAINTENANCE": "dependencies", "RESEARCH": "spike", "PLANNING": "epic",
	"REVIEW": "needs-review", "DEPLOYMENT": "release", "MONITORING": "observability",
}

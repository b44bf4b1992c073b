"""cpfft settings: quota-safe defaults, Excel-ready CSV, no secret at import time.

Every ``CPF_*`` / ``CPFFT_*`` value can be overridden by an environment
variable of the same name, a ``.env`` file, or ``-s NAME=value``. Each default
that differs from Scrapy's says why.
"""

from cpfft.config import env, load_environment

load_environment()

BOT_NAME = "cpfft"
SPIDER_MODULES = ["cpfft.spiders"]
NEWSPIDER_MODULE = "cpfft.spiders"
# Our `crawl` validates arguments first and exits non-zero on incomplete output.
COMMANDS_MODULE = "cpfft.commands"

USER_AGENT = "cpfft/0.1 (Scrapy open-data extractor)"

# ---------------------------------------------------------------- APIs
CPF_API_URL = env("CPF_API_URL", "https://opendata.caissedesdepots.fr")
CPF_DATASET = env("CPF_DATASET", "moncompteformation_catalogueformation")
# Extra -a theme values: a JSON object {"theme": ["NSF code", ...]} (see README).
CPF_THEMES = env("CPF_THEMES", "{}")
# Rows per bulk export (one API call each). Bigger = fewer calls, more memory.
CPF_PARTITION_ROWS = env("CPF_PARTITION_ROWS", "10000")
# How often a partition is fetched again when its export comes back short or cut.
CPF_PARTITION_ATTEMPTS = env("CPF_PARTITION_ATTEMPTS", "4")
# A 429 whose reset is nearer than this is waited for; a later one stops the run.
CPF_QUOTA_MAX_WAIT = env("CPF_QUOTA_MAX_WAIT", "120")

# France Travail « Offres d'emploi v2 ». Credentials (FT_CLIENT_ID / FT_CLIENT_SECRET) are
# NOT settings: cpfft.credentials reads them from the environment only when needed.
FT_API_URL = env("FT_API_URL", "https://api.francetravail.io")
FT_TOKEN_URL = env(
    "FT_TOKEN_URL",
    "https://entreprise.francetravail.fr/connexion/oauth2/access_token?realm=/partenaire",
)
FT_SCOPE = env("FT_SCOPE", "api_offresdemploiv2 o2dsoffre")
# Hard cap on requests per second to France Travail, token calls included (quota: 10/s
# per application; split it between jobs that share one application).
FT_MAX_RPS = env("FT_MAX_RPS", "10")
# The download slot shared by the token and API calls of France Travail (one application).
FT_DOWNLOAD_SLOT = "francetravail"
# After each successful call the rate rises by this fraction toward FT_MAX_RPS; each 429
# halves it (cpfft.middlewares.pace).
CPFFT_RATE_INCREASE = env("CPFFT_RATE_INCREASE", "0.02")
# Lower creation-date bound of queries without -a minCreationDate (the API needs both bounds).
FT_OLDEST_CREATION = env("FT_OLDEST_CREATION", "2000-01-01T00:00:00Z")
# -a depuis=dernier starts this many seconds before the previous complete run's bound, for
# offers indexed late; offers of the overlap already in the query's state are not written again.
FT_INCREMENTAL_OVERLAP = env("FT_INCREMENTAL_OVERLAP", "3600")
FT_OAUTH_ENABLED = False  # switched on by the offres spider

# APIs, not web pages: robots.txt would cost a quota call and means nothing here.
ROBOTSTXT_OBEY = False
COOKIES_ENABLED = False
# Requests stay in memory even with JOBDIR: cpfft resumes from its own journal and the
# output file (cpfft.resume), so no request (nor token) is ever written to disk.
SCHEDULER = "cpfft.resume.MemoryScheduler"
# Remote shells into a crawler have no place on a scheduled server.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

# ---------------------------------------------------------------- politeness
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0
DOWNLOAD_DELAY_JITTER = 0
# Exports are streamed for tens of seconds; default 180 s is tight on slow links.
DOWNLOAD_TIMEOUT = env("CPFFT_DOWNLOAD_TIMEOUT", "300")
# A partition export is tens of MB by design; don't warn about it.
DOWNLOAD_WARNSIZE = 0

# ---------------------------------------------------------------- retries
DOWNLOADER_MIDDLEWARES = {
    # Scrapy retries immediately and ignores Retry-After; ours waits with backoff.
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "cpfft.middlewares.retry.BackoffRetryMiddleware": 550,
    # Paces each slot and holds all its requests after a 429; just before the France Travail
    # token middleware (650), so that a token is attached once a request may start.
    "cpfft.middlewares.pace.PaceMiddleware": 640,
}
RETRY_TIMES = env("CPFFT_RETRY_TIMES", "5")
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
CPFFT_RETRY_BACKOFF = env("CPFFT_RETRY_BACKOFF", "1")  # seconds before the first retry, doubling
CPFFT_RETRY_BACKOFF_MAX = env("CPFFT_RETRY_BACKOFF_MAX", "60")
CPFFT_RETRY_AFTER_MAX = env("CPFFT_RETRY_AFTER_MAX", "600")  # cap on a server's Retry-After
# A 429 means "wait", not "failed": retried this many times, apart from RETRY_TIMES.
CPFFT_RATE_LIMIT_RETRIES = env("CPFFT_RATE_LIMIT_RETRIES", "50")

# ---------------------------------------------------------------- items and CSV
ITEM_PIPELINES = {
    "cpfft.pipelines.CleanPipeline": 100,
    "cpfft.pipelines.RequireKeyPipeline": 200,
    "cpfft.pipelines.DedupePipeline": 300,
}
# Dropped rows are counted in the summary; their full content is only for DEBUG.
DEFAULT_DROPITEM_LOG_LEVEL = "DEBUG"
FEED_EXPORTERS = {"csv": "cpfft.exporters.CsvExporter"}
# UTF-8 with BOM: Excel opens accents correctly only with it.
FEED_EXPORT_ENCODING = "utf-8-sig"
FEED_STORE_EMPTY = True
CPFFT_CSV_DELIMITER = env("CPFFT_CSV_DELIMITER", ",")
# Without -O: write <dir>/<spider>/<UTC timestamp>.csv and keep <spider>/latest.csv on the
# newest complete one (scheduled runs). Absolute path.
CPFFT_OUTPUT_DIR = env("CPFFT_OUTPUT_DIR", "")
CPFFT_CSV_FORMULA_GUARD = env("CPFFT_CSV_FORMULA_GUARD", "true")

# ---------------------------------------------------------------- reporting
EXTENSIONS = {
    # Never overwrite a previous output with an empty file when the run failed.
    "scrapy.extensions.feedexport.FeedExporter": None,
    "cpfft.extensions.feeds.FeedExporter": 0,
    "cpfft.extensions.report.RunReport": 500,
}
CPFFT_PROGRESS_INTERVAL = env("CPFFT_PROGRESS_INTERVAL", "10")
LOG_LEVEL = env("CPFFT_LOG_LEVEL", "INFO")
# Our progress line (with total and ETA) replaces Scrapy's "Crawled N pages" line.
LOGSTATS_INTERVAL = 0

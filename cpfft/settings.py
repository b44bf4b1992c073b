"""cpfft settings: quota-safe defaults, Excel-ready CSV, no secret at import time.

Every ``CPF_*`` / ``CPFFT_*`` / ``FT_*`` value can be overridden by an environment
variable of the same name, a ``.env`` file, or ``-s NAME=value``. Those settings are
declared, with their default, check and role, in ``cpfft.config.SETTINGS``: here
``env(NAME)`` gives the environment's (or ``.env``'s) value, else that default.
Each other default that differs from Scrapy's says why.
"""

from cpfft.config import env, load_environment

load_environment()

# Sets the Scrapy settings that have a cpfft name (CPFFT_RETRY_TIMES → RETRY_TIMES…) from
# -s too, and checks every setting in scrapyd and CrawlerProcess runs (cpfft.config).
ADDONS = {"cpfft.config.SettingsAddon": 0}

BOT_NAME = "cpfft"
# Each source is a package holding its spider (see the README's code map).
SPIDER_MODULES = ["cpfft.cpf.spider", "cpfft.offres.spider"]
NEWSPIDER_MODULE = "cpfft"
# Our `crawl` validates arguments first and exits non-zero on incomplete output.
COMMANDS_MODULE = "cpfft.commands"

USER_AGENT = "cpfft/0.1 (Scrapy open-data extractor)"

# ---------------------------------------------------------------- APIs
CPF_API_URL = env("CPF_API_URL")
CPF_DATASET = env("CPF_DATASET")
CPF_THEMES = env("CPF_THEMES")
CPF_PARTITION_ROWS = env("CPF_PARTITION_ROWS")
CPF_PARTITION_ATTEMPTS = env("CPF_PARTITION_ATTEMPTS")
CPF_QUOTA_MAX_WAIT = env("CPF_QUOTA_MAX_WAIT")
CPF_QUOTA_ENABLED = False  # switched on by the cpf spider (and scrapy sonde)

# France Travail « Offres d'emploi v2 ». Credentials (FT_CLIENT_ID / FT_CLIENT_SECRET) are
# NOT settings: cpfft.offres.credentials reads them from the environment only when needed.
FT_API_URL = env("FT_API_URL")
FT_TOKEN_URL = env("FT_TOKEN_URL")
FT_SCOPE = env("FT_SCOPE")
FT_MAX_RPS = env("FT_MAX_RPS")
# The download slot shared by the token and API calls of France Travail (one application).
FT_DOWNLOAD_SLOT = "francetravail"
CPFFT_RATE_INCREASE = env("CPFFT_RATE_INCREASE")
FT_OLDEST_CREATION = env("FT_OLDEST_CREATION")
FT_INCREMENTAL_OVERLAP = env("FT_INCREMENTAL_OVERLAP")
FT_OAUTH_ENABLED = False  # switched on by the offres spider
# A 401 for the newest token drops it and sends the request again, at most this many times.
FT_OAUTH_401_RETRIES = 2

# ---------------------------------------------------------------- set by the crawl command
# Not for users: how `scrapy crawl` tells the components about this run's output.
CPFFT_RUN_OUTPUT = ""  # the timestamped file under CPFFT_OUTPUT_DIR (no -O/-o), else ""
CPFFT_RESUME_FROM = ""  # with JOBDIR: the output file an interrupted attempt left, appended to
CPFFT_RESUME_REPAIRED = 0  # bytes of a torn last row cut from that file before resuming

# APIs, not web pages: robots.txt would cost a quota call and means nothing here.
ROBOTSTXT_OBEY = False
COOKIES_ENABLED = False
# Requests stay in memory even with JOBDIR: cpfft resumes from its own journal and the
# output file (cpfft.run.resume), so no request (nor token) is ever written to disk.
SCHEDULER = "cpfft.run.resume.MemoryScheduler"
# Nor are request fingerprints (requests.seen): every cpfft request is dont_filter anyway.
DUPEFILTER_CLASS = "cpfft.run.resume.MemoryDupeFilter"
# Remote shells into a crawler have no place on a scheduled server.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

# ---------------------------------------------------------------- politeness
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0
DOWNLOAD_DELAY_JITTER = 0
# Exports are streamed for tens of seconds; default 180 s is tight on slow links.
CPFFT_DOWNLOAD_TIMEOUT = env("CPFFT_DOWNLOAD_TIMEOUT")
DOWNLOAD_TIMEOUT = CPFFT_DOWNLOAD_TIMEOUT
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
    # Each source's own middleware switches itself off (NotConfigured) in the other's runs:
    # the Opendatasoft quota (on with CPF_QUOTA_ENABLED; it sees a 429 before the retries
    # do) and the France Travail token (on with FT_OAUTH_ENABLED).
    "cpfft.cpf.quota.OpendatasoftQuotaMiddleware": 560,
    "cpfft.offres.oauth.OAuth2TokenMiddleware": 650,
}
CPFFT_RETRY_TIMES = env("CPFFT_RETRY_TIMES")
RETRY_TIMES = CPFFT_RETRY_TIMES
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
CPFFT_RETRY_BACKOFF = env("CPFFT_RETRY_BACKOFF")
CPFFT_RETRY_BACKOFF_MAX = env("CPFFT_RETRY_BACKOFF_MAX")
CPFFT_RETRY_AFTER_MAX = env("CPFFT_RETRY_AFTER_MAX")
# A host that never answered and does not resolve or refuses connections (no network, a
# proxy, a mistyped URL) is retried this many times only, then the run stops in one line.
CPFFT_UNREACHABLE_RETRIES = env("CPFFT_UNREACHABLE_RETRIES")
# A 429 means "wait", not "failed": retried this many times, apart from RETRY_TIMES.
CPFFT_RATE_LIMIT_RETRIES = env("CPFFT_RATE_LIMIT_RETRIES")

# ---------------------------------------------------------------- items and CSV
ITEM_PIPELINES = {
    "cpfft.pipelines.CleanPipeline": 100,
    "cpfft.pipelines.RequireKeyPipeline": 200,
    "cpfft.pipelines.DedupePipeline": 300,
}
# Dropped rows are counted in the summary; their full content is only for DEBUG.
DEFAULT_DROPITEM_LOG_LEVEL = "DEBUG"
# One DEBUG line per batch of rows (cpfft.run.rows), not the batch's whole content.
LOG_FORMATTER = "cpfft.run.rows.LogFormatter"
# An item is a batch of up to 500 rows and the pipelines never wait: one batch of a response
# at a time, not Scrapy's 100 (50 000 rows in memory at once, for no speed).
CONCURRENT_ITEMS = 1
FEED_EXPORTERS = {
    "csv": "cpfft.exporters.CsvExporter",
    "xml": "cpfft.exporters.XmlExporter",
    "xlsx": "cpfft.exporters.XlsxExporter",  # -O formations.xlsx: typed cells for Excel
    # -O formations.parquet: typed columns in row groups (needs the analyse extra: pyarrow)
    "parquet": "cpfft.parquet.ParquetExporter",
}
# UTF-8 for every format; the CSV exporter adds the BOM Excel needs to show accents (JSON
# and XML must not have one).
FEED_EXPORT_ENCODING = "utf-8"
# Rows of an xlsx sheet, header included (Excel's limit); a run expecting more stops first.
CPFFT_XLSX_MAX_ROWS = env("CPFFT_XLSX_MAX_ROWS")
FEED_STORE_EMPTY = True
# Local files: written to X.incomplete.csv, renamed onto X.csv once the run is complete;
# a write error at close is one line and fails the run (cpfft.run.feeds).
FEED_STORAGES = {"": "cpfft.run.feeds.FileStorage", "file": "cpfft.run.feeds.FileStorage"}
CPFFT_CSV_DELIMITER = env("CPFFT_CSV_DELIMITER")
CPFFT_OUTPUT_DIR = env("CPFFT_OUTPUT_DIR")
CPFFT_CSV_FORMULA_GUARD = env("CPFFT_CSV_FORMULA_GUARD")
# scrapy entrepot postgresql://…: the schema that holds the warehouse, replaced at each load.
CPFFT_POSTGRESQL_SCHEMA = env("CPFFT_POSTGRESQL_SCHEMA")

# ---------------------------------------------------------------- reporting
EXTENSIONS = {
    # Never overwrite a previous output with an empty file when the run failed.
    "scrapy.extensions.feedexport.FeedExporter": None,
    "cpfft.run.feeds.FeedExporter": 0,
    "cpfft.run.report.RunReport": 500,
    # Under CPFFT_OUTPUT_DIR: each run's status record, read by `scrapy etat`.
    "cpfft.run.recorder.RunStatusRecorder": 510,
    # Spiders yield rows in batches (cpfft.run.rows): item counts and limits stay in rows.
    "cpfft.run.rows.RowStats": 0,
    "scrapy.extensions.closespider.CloseSpider": None,
    "cpfft.run.rows.CloseSpider": 0,
    # JOBDIR holds only cpfft's journal (cpfft.run.resume): no pickled spider.state file.
    "scrapy.extensions.spiderstate.SpiderState": None,
}
CPFFT_PROGRESS_INTERVAL = env("CPFFT_PROGRESS_INTERVAL")
CPFFT_LOG_LEVEL = env("CPFFT_LOG_LEVEL")
LOG_LEVEL = CPFFT_LOG_LEVEL
# Our progress line (with total and ETA) replaces Scrapy's "Crawled N pages" line.
LOGSTATS_INTERVAL = 0
# Scrapy's banner (versions, components, overridden settings) and its stats dump (STATS_DUMP)
# are logged at DEBUG, not INFO: see cpfft.run.report.quiet_scrapy_logs.

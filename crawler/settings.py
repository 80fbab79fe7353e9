"""Scrapy settings for the yuqing crawl processes (``SCRAPY_SETTINGS_MODULE=crawler.settings``).

Per-source values (delay, concurrency, robots, timeouts, page-size cap, proxy) are applied by
the spider's ``from_crawler`` from the sources file; these are the service-wide defaults.
"""

BOT_NAME = "yuqing"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

USER_AGENT = "yuqing-monitor/0.1 (public-opinion monitoring; obeys robots.txt)"
ROBOTSTXT_OBEY = True
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False

CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
RANDOMIZE_DOWNLOAD_DELAY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

DOWNLOAD_TIMEOUT = 20
DOWNLOAD_MAXSIZE = 5_000_000
DOWNLOAD_WARNSIZE = 2_000_000
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [408, 429, 500, 502, 503, 504, 522, 524]
REDIRECT_MAX_TIMES = 5
DNS_TIMEOUT = 15

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    "crawler.middlewares.EncodingMiddleware": 585,
    "crawler.middlewares.SourceRequestMiddleware": 740,
}
ITEM_PIPELINES = {"crawler.pipelines.InboxPipeline": 300}
EXTENSIONS = {"crawler.extensions.RunReport": 500}

LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"
REMOTE_CONTROL_ENABLED = False  # no listening port in a crawl process

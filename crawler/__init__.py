"""Collection of the public lines (Scrapy spiders), import of the internal lines, crawl schedule."""

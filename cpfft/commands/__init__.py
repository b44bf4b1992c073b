"""Project commands; ``crawl`` replaces Scrapy's to validate first and set the exit code."""

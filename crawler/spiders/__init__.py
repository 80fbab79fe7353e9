"""The four generic spiders; which site each crawls is given by ``-a source=NAME``."""

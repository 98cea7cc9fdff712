"""Application identity, shown in the window title, reports and stores."""

APP_NAME = "EmbryoGrade"
__version__ = "0.1.0"
RESEARCH_NOTICE = "For research use only"

"""Report: what people read — Chinese labels, district names, clerk tables, Excel workbooks, the
review workbooks and the monitoring report's page and charts."""

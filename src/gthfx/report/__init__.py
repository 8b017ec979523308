"""Report: what people read — Chinese labels, district names, clerk tables, Excel workbooks and the
review workbooks."""

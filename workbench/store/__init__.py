"""The only package that imports fiftyone or pymongo: workspace, schema, bulk I/O, runs."""

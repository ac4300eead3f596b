"""The FiftyOne App as the workbench's front end: launching it with the workbench operators."""

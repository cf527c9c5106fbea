"""Parquet datasets: the schema, the streaming atomic writer, the reader and the verifier."""

from mxbench.data.reader import (VerifyReport, dataset_folders, load_dataset, load_suite, read_manifest, summary,
                                 verify, verify_all)
from mxbench.data.schema import SCHEMA_VERSION, TABLES
from mxbench.data.writer import write

__all__ = ["write", "load_dataset", "load_suite", "read_manifest", "verify", "verify_all", "summary", "dataset_folders",
           "VerifyReport", "SCHEMA_VERSION", "TABLES"]

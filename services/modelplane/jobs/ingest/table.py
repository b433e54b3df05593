"""Reading the fetched files as one Arrow table (CSV, Parquet or JSON Lines).

Files are read in order and concatenated (types of the same column are unified across files). With a
declared schema, String and Categorical columns of a CSV are read as text, so ``"007"`` stays ``"007"``;
everything else is inferred here and checked by :mod:`.validation`. Empty CSV fields and the usual
missing markers (``NA``, ``N/A``, ``NULL``, ``null``, ``NaN``, ``nan``) are missing values.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from modelplane.apis.v1alpha1.dataset import ColumnType, DataFormat, DatasetSchema
from modelplane.jobs.errors import InvalidData
from modelplane.jobs.ingest.source import SourceFile

NULL_VALUES = ["", "NA", "N/A", "NULL", "null", "NaN", "nan"]
TEXT_TYPES = frozenset({ColumnType.STRING, ColumnType.CATEGORICAL})


def read_table(files: Sequence[SourceFile], data_format: DataFormat, schema: DatasetSchema) -> pa.Table:
    """All ``files`` as one table, rows in file order."""
    tables = [_read(file, data_format, schema) for file in files]
    try:
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise InvalidData(f"the source files do not have compatible columns: {error}") from error
    return table.combine_chunks().replace_schema_metadata(None)


def _read(file: SourceFile, data_format: DataFormat, schema: DatasetSchema) -> pa.Table:
    try:
        if data_format == DataFormat.PARQUET:
            table = pq.read_table(file.path)
        elif data_format == DataFormat.JSON_LINES:
            table = pa_json.read_json(file.path)
        else:
            text = {c.name: pa.string() for c in schema.columns if c.type in TEXT_TYPES}
            table = pa_csv.read_csv(
                file.path,
                convert_options=pa_csv.ConvertOptions(
                    column_types=text, null_values=NULL_VALUES, strings_can_be_null=True
                ),
            )
    except (pa.ArrowException, OSError) as error:
        raise InvalidData(f"{file.name} is not readable as {data_format.value}: {error}") from error
    columns = table.column_names
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise InvalidData(f"{file.name} has duplicate columns: {', '.join(duplicates)}")
    return table

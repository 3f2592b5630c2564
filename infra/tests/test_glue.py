"""The Glue table (what Athena reads) against the lake the writer writes.

infra/generated/events-schema.json is the Arrow schema of pipeline::event
and the writer's partition directory, kept current by `cargo test`. The
table's columns must be that schema in Glue's types, in order, and the
partition projection must render exactly the writer's paths.
"""

from __future__ import annotations

import json
import pathlib
import re

import pytest
from cfn import Resolver

GENERATED = pathlib.Path(__file__).resolve().parent.parent / "generated" / "events-schema.json"

# Arrow (as arrow-rs prints it) -> Glue/Hive. Athena has no unsigned types;
# the event schema has none.
GLUE_TYPES = {
    "Boolean": "boolean",
    "Int32": "int",
    "Int64": "bigint",
    "Float32": "float",
    "Float64": "double",
    "Utf8": "string",
    "LargeUtf8": "string",
    'Timestamp(µs, "UTC")': "timestamp",
    'Timestamp(Microsecond, Some("UTC"))': "timestamp",
}


def glue_type(arrow: str) -> str:
    # Lists print as `List(non-null Utf8, field: 'element')`.
    listed = re.fullmatch(r"(?:Large)?List\((?:non-null )?(\w+).*\)", arrow)
    if listed:
        return f"array<{glue_type(listed.group(1))}>"
    if arrow not in GLUE_TYPES:
        raise AssertionError(f"no Glue type for Arrow {arrow!r}: add it to GLUE_TYPES")
    return GLUE_TYPES[arrow]


def test_glue_types_cover_what_the_schema_prints():
    assert glue_type("List(non-null Utf8, field: 'element')") == "array<string>"
    assert glue_type('Timestamp(µs, "UTC")') == "timestamp"
    with pytest.raises(AssertionError):
        glue_type("UInt64")


@pytest.fixture(scope="module")
def schema():
    return json.loads(GENERATED.read_text())


@pytest.fixture(scope="module")
def table(template):
    return Resolver(template).properties("EventsTable")["TableInput"]


def test_columns_are_the_event_schema_in_glue_types(schema, table):
    expected = [{"Name": c["name"], "Type": glue_type(c["arrow_type"])} for c in schema["columns"]]
    assert table["StorageDescriptor"]["Columns"] == expected


def test_projection_renders_the_writers_partition_paths(schema, table):
    p = table["Parameters"]
    example = schema["partition_example"]
    rendered = (
        p["storage.location.template"]
        .replace("${dt}", example["date"])
        .replace("${hour}", str(example["hour"]).zfill(int(p["projection.hour.digits"])))
    )
    assert rendered == "s3://{LakeBucket}/" + example["dir"] + "/"
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt", "hour"]
    assert p["projection.enabled"] == "true"
    assert p["projection.dt.format"] == "yyyy-MM-dd" and p["projection.hour.range"] == "0,23"


def test_the_table_reads_parquet(table):
    sd = table["StorageDescriptor"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    assert sd["Location"] == "s3://{LakeBucket}/events/"
    assert table["Parameters"]["classification"] == "parquet"


def test_athena_results_are_encrypted_capped_and_expire(template):
    r = Resolver(template)
    wg = r.properties("AthenaWorkGroup")["WorkGroupConfiguration"]
    assert wg["EnforceWorkGroupConfiguration"] is True
    assert wg["ResultConfiguration"]["OutputLocation"] == "s3://{LakeBucket}/athena-results/"
    assert wg["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_S3"
    assert 10_000_000 <= int(wg["BytesScannedCutoffPerQuery"]) <= 100 * 2**30

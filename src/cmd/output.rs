//! Query results out: a table that fits the terminal, CSV, JSON or Parquet,
//! to standard output or a file. Shared by `report run` and `sql`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use queries::datafusion::arrow::array::RecordBatch;
use queries::datafusion::arrow::datatypes::SchemaRef;
use queries::datafusion::arrow::{csv, json};
use queries::datafusion::parquet::arrow::ArrowWriter;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns, cut to the terminal's width.
    Table,
    /// RFC 4180 with a header line.
    Csv,
    /// One JSON array of objects.
    Json,
    /// A Parquet file (needs --out or a redirected standard output).
    Parquet,
}

#[derive(clap::Args, Debug)]
pub struct OutputArgs {
    /// How to print the result.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Write the result to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl OutputArgs {
    /// Refuses what cannot work before the query runs: Parquet onto a terminal.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.format == Format::Parquet && self.out.is_none() && std::io::stdout().is_terminal() {
            anyhow::bail!("--format parquet writes binary data: give --out FILE or redirect standard output");
        }
        Ok(())
    }

    /// Writes `batches` (with `schema`, which an empty result still has).
    /// The whole result is encoded first, and a file is written under a
    /// temporary name and renamed: a failure leaves no half-written output
    /// and an existing `--out` file as it was.
    pub fn write(&self, schema: SchemaRef, batches: &[RecordBatch]) -> anyhow::Result<()> {
        let width = if self.out.is_none() { stdout_width() } else { None };
        let bytes = encode(self.format, schema, batches, width)?;
        match &self.out {
            Some(path) => {
                let tmp = path.with_file_name(format!(
                    ".{}.{}.tmp",
                    path.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
                    std::process::id()
                ));
                std::fs::write(&tmp, &bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
                std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
            }
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(&bytes).and_then(|()| out.flush()).context("cannot write standard output")?;
            }
        }
        Ok(())
    }
}

/// The width to fit when standard output is a terminal.
pub fn stdout_width() -> Option<usize> {
    std::io::stdout().is_terminal().then(terminal_width)
}

/// `$COLUMNS`, else the terminal's width, else 100.
fn terminal_width() -> usize {
    if let Some(n) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return n;
    }
    // SAFETY: TIOCGWINSZ fills the winsize struct it is given; nothing else is touched.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 { usize::from(size.ws_col) } else { 100 }
}

fn encode(format: Format, schema: SchemaRef, batches: &[RecordBatch], width: Option<usize>) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    match format {
        Format::Table => out = queries::table::table(&schema, batches, width)?.into_bytes(),
        Format::Csv => {
            // CSV has no lists: a list column becomes its text, `[a, b]`.
            let flat = queries::table::lists_as_text(&schema, batches)?;
            let mut w = csv::WriterBuilder::new().with_header(true).build(&mut out);
            if flat.is_empty() {
                w.write(&RecordBatch::new_empty(queries::table::lists_as_text_schema(&schema)))?;
            }
            flat.iter().try_for_each(|b| w.write(b))?;
        }
        Format::Json => {
            let mut w = json::ArrayWriter::new(&mut out);
            batches.iter().try_for_each(|b| w.write(b))?;
            // `[]` for an empty result too.
            w.finish()?;
            drop(w);
            out.push(b'\n');
        }
        Format::Parquet => {
            let mut w = ArrowWriter::try_new(&mut out, schema, None)?;
            batches.iter().try_for_each(|b| w.write(b))?;
            w.close()?;
        }
    }
    Ok(out)
}

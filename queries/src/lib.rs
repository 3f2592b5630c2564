//! SQL over the lake: a DataFusion session with the lake's tables
//! registered. The risk-scoring SQL and the report catalogue build on it.

pub mod catalog;
pub mod dashboard;
pub mod reports;
pub mod score;
pub mod table;

use std::sync::Arc;

pub use datafusion;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{SessionConfig, SessionContext};
use pipeline::lake::Lake;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("query engine: {0}")]
    Engine(#[from] DataFusionError),
    #[error("query {query}: {source}")]
    InQuery { query: String, source: DataFusionError },
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
    #[error("unexpected query result: {0}")]
    Shape(String),
    #[error("lake location {0:?} is not a valid URL")]
    Url(String),
    #[error(transparent)]
    Lake(#[from] pipeline::lake::LakeError),
}

/// The trigger's decisions, as recorded on the attempts.
const DECISIONS_VIEW: &str = "CREATE VIEW decisions AS
SELECT time, event_id, user_pool_id, username, client_id, source_ip, ip_verified, geo_country, geo_city, asn,
       device_key, decision_action, decision_score, decision_level, decision_reasons, policy_version,
       snapshot_version, dt, hour
FROM events
WHERE event_type = 'auth.attempt' AND decision_action IS NOT NULL";

/// A DataFusion session over one lake.
pub struct LakeSession {
    ctx: SessionContext,
    lake: Lake,
}

impl LakeSession {
    /// Registers the lake's tables:
    /// - `events`: every Parquet file under `events/`, with the Hive
    ///   partition columns `dt` (`YYYY-MM-DD`) and `hour` (`HH`) as strings
    ///   so that filters on them prune whole directories;
    /// - `decisions`: the decided attempts among them (a view);
    /// - `user_risk`, `ip_risk`, `asn_risk`: the scorer's latest run
    ///   (`risk/*/latest.parquet`; empty until a scorer has run).
    pub async fn open(lake: &Lake) -> Result<LakeSession, QueryError> {
        // `DATAFUSION_*` variables tune the engine (e.g. DATAFUSION_EXECUTION_TARGET_PARTITIONS).
        let config = SessionConfig::from_env()?.with_information_schema(true);
        let ctx = SessionContext::new_with_config(config);
        if let Some((base, store)) = lake.store_for_engines() {
            let url = url::Url::parse(&base).map_err(|_| QueryError::Url(base.clone()))?;
            ctx.register_object_store(&url, store);
        }
        let table_url = ListingTableUrl::parse(lake.url_of("events"))?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(vec![("dt".to_string(), DataType::Utf8), ("hour".to_string(), DataType::Utf8)]);
        // The schema is known (the one event definition): no inference pass.
        let schema = Arc::new(pipeline::event::arrow_schema());
        let config = ListingTableConfig::new(table_url).with_listing_options(options).with_schema(schema);
        ctx.register_table("events", Arc::new(ListingTable::try_new(config)?))?;
        for name in pipeline::lake::risk_tables::TABLES {
            let url = ListingTableUrl::parse(lake.url_of(&format!("risk/{name}")))?;
            let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
            let config = ListingTableConfig::new(url)
                .with_listing_options(options)
                .with_schema(pipeline::lake::risk_tables::schema(name));
            ctx.register_table(name, Arc::new(ListingTable::try_new(config)?))?;
        }
        let session = LakeSession { ctx, lake: lake.clone() };
        session.sql(DECISIONS_VIEW).await?;
        Ok(session)
    }

    /// What a catalogue query with its parameters bound by name would
    /// compute, not yet run (its plan shows which files it reads).
    pub async fn dataframe(
        &self,
        q: &catalog::Query,
        params: &[(&str, catalog::Param)],
    ) -> Result<DataFrame, QueryError> {
        let values = q.bind(params)?;
        let df = async { self.ctx.sql(&q.sql).await?.with_param_values(values) }.await;
        df.map_err(|source| QueryError::InQuery { query: q.name.clone(), source })
    }

    /// One read-only statement as given by a person (`authtrail sql`): no
    /// DDL, no DML, no `SET`, and one statement only, so text pasted in
    /// cannot change the session or the lake.
    pub async fn read_only(&self, sql: &str) -> Result<DataFrame, DataFusionError> {
        let options = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
        self.ctx.sql_with_options(sql, options).await
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The lake the tables are over.
    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    /// Runs a catalogue query with its parameters bound by name.
    pub async fn query(
        &self,
        q: &catalog::Query,
        params: &[(&str, catalog::Param)],
    ) -> Result<Vec<RecordBatch>, QueryError> {
        let df = self.dataframe(q, params).await?;
        df.collect().await.map_err(|source| QueryError::InQuery { query: q.name.clone(), source })
    }

    /// Registers (or replaces) the table `name` as a view of a catalogue
    /// query with bound parameters: queries over it run it as part of theirs.
    pub async fn register_query(
        &self,
        name: &str,
        q: &catalog::Query,
        params: &[(&str, catalog::Param)],
    ) -> Result<(), QueryError> {
        let values = q.bind(params)?;
        let table =
            async { Ok::<_, DataFusionError>(self.ctx.sql(&q.sql).await?.with_param_values(values)?.into_view()) }
                .await
                .map_err(|source| QueryError::InQuery { query: q.name.clone(), source })?;
        self.ctx.deregister_table(name)?;
        self.ctx.register_table(name, table)?;
        Ok(())
    }

    /// Registers (or replaces) the table `name` as `batches`, held in memory.
    pub fn register_batches(&self, name: &str, schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<(), QueryError> {
        let table = MemTable::try_new(schema, vec![batches])?;
        self.ctx.deregister_table(name)?;
        self.ctx.register_table(name, Arc::new(table))?;
        Ok(())
    }

    /// Runs one SQL statement and collects its result.
    pub async fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>, QueryError> {
        Ok(self.ctx.sql(sql).await?.collect().await?)
    }
}

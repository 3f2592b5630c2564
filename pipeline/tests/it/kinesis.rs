//! The Kinesis sink against a real Kinesis-compatible server (kinesalite on
//! 127.0.0.1, installed and started by `scripts/test`), through the real SDK
//! client configured from the standard AWS environment variables.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::types::ShardIteratorType;
use pipeline::stream::{EntryOutcome, EventSink, KinesisSink, PutRecordsApi, Record, SdkPutRecords, kinesis_client};

/// The test script exports `AWS_ENDPOINT_URL_KINESIS`; running this module
/// without it is a setup error, not a pass.
async fn client() -> aws_sdk_kinesis::Client {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_KINESIS").is_ok(),
        "AWS_ENDPOINT_URL_KINESIS is not set: run the suite with ./scripts/test, which starts kinesalite"
    );
    kinesis_client().await
}

async fn create_stream(client: &aws_sdk_kinesis::Client, name: &str, shards: i32) {
    client.create_stream().stream_name(name).shard_count(shards).send().await.expect("CreateStream");
    for _ in 0..100 {
        let d = client.describe_stream_summary().stream_name(name).send().await.expect("DescribeStreamSummary");
        if d.stream_description_summary().map(|s| s.stream_status().as_str()) == Some("ACTIVE") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("stream {name} never became ACTIVE");
}

/// Every record in the stream, read back with GetRecords: (partition key, data) → count.
async fn read_all(client: &aws_sdk_kinesis::Client, name: &str) -> BTreeMap<(String, Vec<u8>), usize> {
    let mut out = BTreeMap::new();
    let shards = client.list_shards().stream_name(name).send().await.expect("ListShards");
    for shard in shards.shards() {
        let mut iterator = client
            .get_shard_iterator()
            .stream_name(name)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("GetShardIterator")
            .shard_iterator()
            .map(str::to_string);
        while let Some(it) = iterator {
            let page = client.get_records().shard_iterator(it).send().await.expect("GetRecords");
            for r in page.records() {
                *out.entry((r.partition_key().unwrap_or_default().to_string(), r.data().as_ref().to_vec()))
                    .or_default() += 1;
            }
            // An open shard always hands out a next iterator; everything was
            // written before reading, so an empty page means caught up.
            iterator = if page.records().is_empty() { None } else { page.next_shard_iterator().map(str::to_string) };
        }
    }
    out
}

fn records(prefix: &str, n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| Record {
            partition_key: format!("eu-west-1_Pool/user-{}", i % 17),
            data: format!(r#"{{"schema_version":1,"event_id":"{prefix}-{i}"}}"#).into_bytes(),
        })
        .collect()
}

fn unique_name(tag: &str) -> String {
    format!("authtrail-test-{tag}-{}", std::process::id())
}

#[tokio::test]
async fn emits_and_reads_back_every_record() {
    let client = client().await;
    let name = unique_name("emit");
    create_stream(&client, &name, 2).await;
    let sink = KinesisSink::new(SdkPutRecords::new(client.clone(), &name), Duration::from_secs(4));
    let input = records("emit", 1200); // more than one PutRecords call (500 max)
    let results = sink.emit(&input).await;
    assert!(results.iter().all(|r| r.is_ok()), "{:?}", results.iter().find(|r| r.is_err()));
    let shards: std::collections::BTreeSet<_> = results.iter().map(|r| r.as_ref().unwrap().shard_id.clone()).collect();
    assert_eq!(shards.len(), 2, "partition keys spread over both shards");

    let back = read_all(&client, &name).await;
    assert_eq!(back.values().sum::<usize>(), input.len());
    for r in &input {
        assert_eq!(back.get(&(r.partition_key.clone(), r.data.clone())), Some(&1), "record {:?}", r.data);
    }
}

/// Forwards to the real API but rejects chosen entries on their first try,
/// without sending them: the server must see each record exactly once.
struct RejectFirstTry {
    inner: SdkPutRecords,
    reject: Vec<Vec<u8>>,
    tried: Mutex<Vec<Vec<u8>>>,
    calls: Mutex<Vec<usize>>,
}

impl PutRecordsApi for RejectFirstTry {
    async fn put_records(&self, entries: &[&Record]) -> Result<Vec<EntryOutcome>, String> {
        self.calls.lock().unwrap().push(entries.len());
        let mut forward = Vec::new();
        let mut outcomes: Vec<Option<EntryOutcome>> = Vec::new();
        {
            let mut tried = self.tried.lock().unwrap();
            for r in entries {
                if self.reject.contains(&r.data) && !tried.contains(&r.data) {
                    tried.push(r.data.clone());
                    outcomes.push(Some(EntryOutcome::Failed {
                        code: "ProvisionedThroughputExceededException".into(),
                        message: "Rate exceeded for shard".into(),
                    }));
                } else {
                    forward.push(*r);
                    outcomes.push(None);
                }
            }
        }
        let mut sent =
            if forward.is_empty() { Vec::new() } else { self.inner.put_records(&forward).await? }.into_iter();
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| sent.next().expect("one outcome per forwarded entry")))
            .collect())
    }

    fn stream(&self) -> &str {
        self.inner.stream()
    }
}

#[tokio::test]
async fn partial_failures_retry_only_the_failed_entries_and_lose_nothing() {
    let client = client().await;
    let name = unique_name("partial");
    create_stream(&client, &name, 1).await;
    let input = records("partial", 40);
    let reject: Vec<Vec<u8>> = input.iter().step_by(7).map(|r| r.data.clone()).collect();
    let api = RejectFirstTry {
        inner: SdkPutRecords::new(client.clone(), &name),
        reject: reject.clone(),
        tried: Mutex::new(Vec::new()),
        calls: Mutex::new(Vec::new()),
    };
    let sink = KinesisSink::new(api, Duration::from_secs(4));
    let results = sink.emit(&input).await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    // First call: everything; second call: exactly the rejected entries.
    assert_eq!(*sink.api().calls.lock().unwrap(), vec![input.len(), reject.len()]);
    let back = read_all(&client, &name).await;
    assert_eq!(back.values().sum::<usize>(), input.len());
    assert!(back.values().all(|&n| n == 1), "no duplicates");
}

#[tokio::test]
async fn an_unanswering_endpoint_is_cut_off_at_the_budget() {
    // A server that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let shared = pipeline::aws::load_config().await;
    let conf = aws_sdk_kinesis::config::Builder::from(&shared)
        .endpoint_url(format!("http://{addr}"))
        .retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled())
        .build();
    let sink = KinesisSink::new(
        SdkPutRecords::new(aws_sdk_kinesis::Client::from_conf(conf), "silent"),
        Duration::from_millis(200),
    );
    let started = Instant::now();
    let results = sink.emit(&records("silent", 3)).await;
    let elapsed = started.elapsed();
    assert!(results.iter().all(|r| r.as_ref().is_err_and(|e| e.contains("budget"))), "{results:?}");
    // Bounded by the budget (plus scheduling slack), far inside Cognito's 5 s.
    assert!(elapsed < Duration::from_millis(1500), "took {elapsed:?}");
    hold.abort();
}

#[tokio::test]
async fn poller_reads_a_split_stream_parents_first_exactly_once() {
    use pipeline::kinesis::KinesisSource;
    use pipeline::lake::Lake;
    use pipeline::lake::consume::Consumer;

    let client = client().await;
    let name = unique_name("split");
    create_stream(&client, &name, 1).await;
    let sink = KinesisSink::new(SdkPutRecords::new(client.clone(), &name), Duration::from_secs(4));
    let emit = |range: std::ops::Range<usize>| {
        let records: Vec<Record> =
            range.map(super::lake::event).map(|e| Record { partition_key: e.user_key(), data: e.to_json() }).collect();
        async move { records }
    };
    let first = emit(0..300).await;
    assert!(sink.emit(&first).await.iter().all(|r| r.is_ok()));

    // Split the only shard in two, then write more: they go to the children.
    let parent = client.list_shards().stream_name(&name).send().await.unwrap().shards()[0].shard_id().to_string();
    client
        .split_shard()
        .stream_name(&name)
        .shard_to_split(&parent)
        .new_starting_hash_key("170141183460469231731687303715884105728")
        .send()
        .await
        .expect("SplitShard");
    for _ in 0..100 {
        let d = client.describe_stream_summary().stream_name(&name).send().await.unwrap();
        if d.stream_description_summary().map(|s| s.stream_status().as_str()) == Some("ACTIVE") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = emit(300..600).await;
    assert!(sink.emit(&second).await.iter().all(|r| r.is_ok()));

    // One drain over parent and children: every parent batch comes first.
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::local(tmp.path()).unwrap();
    let consumer =
        Consumer { source: KinesisSource::new(client.clone(), &name), lake: lake.clone(), batch_records: 128 };
    let mut order: Vec<String> = Vec::new();
    let s = consumer.drain(|s| order.push(s.last_shard.clone())).await.unwrap();
    assert_eq!(s.records, 600);
    let first_child = order.iter().position(|sh| *sh != parent).expect("children were read");
    assert!(first_child >= 3, "the parent's 300 records come first, in batches of 128: {order:?}");
    assert!(order[first_child..].iter().all(|sh| *sh != parent), "parent read after a child: {order:?}");
    let checkpoints = lake.list("_checkpoints").await.unwrap();
    assert_eq!(checkpoints.len(), 3, "parent and both children: {checkpoints:?}");

    let mut ids = std::collections::BTreeSet::new();
    let mut rows = 0;
    for f in lake.event_files().await.unwrap() {
        let file = std::fs::File::open(tmp.path().join(&f)).unwrap();
        for batch in
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap()
        {
            for e in pipeline::event::from_record_batch(&batch.unwrap()).unwrap() {
                rows += 1;
                ids.insert(e.event_id);
            }
        }
    }
    assert_eq!((rows, ids.len()), (600, 600), "every event exactly once");
    assert_eq!(consumer.drain(|_| {}).await.unwrap().records, 0);
}

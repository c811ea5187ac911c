//! Topics: created at start when missing (idempotent), so a fresh cluster works without manual steps.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use crate::{Config, Error, Result, kafka_error};

/// Creates each of `topics` (with `partitions` partitions, replication `replicas`) that does not
/// exist yet. Existing topics are left as they are.
pub async fn ensure_topics(config: &Config, topics: &[&str], partitions: i32, replicas: i32) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        config.client_config()?.create().map_err(kafka_error("creating the admin client"))?;
    let new: Vec<NewTopic<'_>> =
        topics.iter().map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(replicas))).collect();
    let results = admin
        .create_topics(&new, &AdminOptions::new().request_timeout(Some(Duration::from_secs(10))))
        .await
        .map_err(kafka_error("creating topics"))?;
    for r in results {
        match r {
            Ok(topic) => tracing::info!(%topic, partitions, "created Kafka topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(Error::Kafka {
                    what: format!("creating topic {topic}"),
                    source: rdkafka::error::KafkaError::AdminOp(code),
                });
            }
        }
    }
    Ok(())
}

//! The reference of the cold-start benchmark (`scripts/bench-cold-start`): a hello-world `lambda_runtime`
//! function, built with the same release profile and tokio runtime flavour as the project's functions.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(json!({"hello": event.payload}))
    }))
    .await
}

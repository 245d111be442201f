//! Integration tests of the `cairn` binary: each module starts real `cairn node` child
//! processes on temporary data directories and drives them through the API and the CLI.
//! One behaviour per module; `harness` holds the shared node/CLI plumbing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod bad_transactions_are_refused_and_change_nothing;
mod metrics_report_height_mempool_and_block_time;
mod next_nonce_is_admitted_while_blocks_commit;
mod node_killed_mid_stream_keeps_every_receipted_transfer;
mod replaying_the_chain_from_genesis_gives_the_same_root_at_every_height;
mod transfer_through_api_and_cli_shows_receipt_and_balances;
mod unknown_routes_and_bad_paths_get_json_errors;

//! Integration tests of the `cairn` binary: each module starts real `cairn node` child
//! processes on temporary data directories and drives them through the API and the CLI.
//! One behaviour per module; `harness` holds the shared node/CLI plumbing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod device_support;
mod harness;

mod a_re_registered_device_keeps_a_consistent_location_history;
mod bad_reports_are_rejected_with_their_reason_while_the_rest_of_the_batch_is_accepted;
mod bad_transactions_are_refused_and_change_nothing;
mod bond_returns_after_the_deregistration_cooldown;
mod chain_entropy_is_recomputable_from_the_blocks;
mod device_registers_only_with_its_own_signature;
mod duplicate_serial_is_refused_with_the_maker_list_on;
mod heartbeats_sent_through_the_cli_are_counted;
mod location_is_asserted_and_read_back;
mod metrics_report_height_mempool_and_block_time;
mod next_nonce_is_admitted_while_blocks_commit;
mod node_killed_mid_stream_keeps_every_receipted_transfer;
mod replaying_the_chain_from_genesis_gives_the_same_root_at_every_height;
mod reports_of_a_released_device_name_its_deregistration_height;
mod transfer_through_api_and_cli_shows_receipt_and_balances;
mod unknown_routes_and_bad_paths_get_json_errors;

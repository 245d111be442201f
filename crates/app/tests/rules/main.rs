//! Chain rules driven through whole blocks on the in-process chain of `cairn-testkit`: each
//! module builds a genesis with the parameters it needs, makes blocks one at a time so every
//! threshold that counts blocks is hit exactly (just inside, just outside), and reads the
//! receipts and state back. No node process: these test rules, not processes, sockets or
//! the CLI (those stay in `bin/cairn/tests/it`). One rule per module, named as a sentence.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod a_device_key_is_denylisted_by_proposal;
mod a_hotspot_cannot_witness_itself_its_owners_beacons_or_beacons_that_never_were;
mod a_lock_only_lengthens_and_returns_only_after_it_ends;
mod a_parameter_change_passes_and_takes_effect_at_the_next_boundary;
mod a_proposal_without_quorum_fails_and_refunds_its_deposit;
mod a_replaced_vote_counts_once;
mod a_second_beacon_inside_the_interval_is_rejected;
mod a_treasury_spend_pays_its_recipient_once_passed;
mod a_vetoed_proposal_burns_its_deposit;
mod a_witness_after_the_lag_window_is_rejected;
mod a_witness_heard_on_another_frequency_is_rejected;
mod a_witness_stronger_than_free_space_path_loss_allows_is_rejected;
mod a_witness_that_has_not_beaconed_recently_is_rejected_for_reciprocity;
mod an_upgrade_height_stops_an_older_node_before_executing_it;
mod beacons_built_from_entropy_older_than_the_window_are_rejected_as_stale;
mod bond_returns_after_the_deregistration_cooldown;
mod channel_settlements_not_higher_or_after_the_dispute_window_are_refused;
mod compute_commits_and_reveals_outside_their_windows_or_not_matching_are_refused;
mod reports_of_a_released_device_name_its_deregistration_height;
mod sensor_readings_just_outside_the_range_are_rejected;
mod storage_answers_with_the_wrong_chunk_a_bad_path_or_after_the_deadline_are_refused;
mod voting_power_is_read_as_it_stood_before_the_proposal;
mod witnesses_beyond_the_cap_are_rejected_in_acceptance_order;
mod witnesses_closer_than_the_minimum_distance_are_rejected;
mod witnesses_farther_than_the_maximum_distance_are_rejected;

//! Store conformance: the same test bodies run against every backend.
//!
//! Each case in [`cases`] is an async fn taking a [`backends::Backend`] (a factory that opens,
//! and re-opens, one isolated store). [`conformance_suite!`] generates one `#[tokio::test]` per
//! case and backend, so `postgres::a_key_is_new_once_and_duplicate_after` and
//! `embedded::a_key_is_new_once_and_duplicate_after` run the same body.
//!
//! PostgreSQL must be reachable at `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); every test creates its own database. The
//! embedded store gets a fresh temporary directory per test.

#[path = "../common/mod.rs"]
mod common;

mod backends;
mod cases;
mod fixtures;
mod following;

/// One `#[tokio::test]` per listed case in `mod postgres` and in `mod embedded`.
macro_rules! conformance_suite {
    ($($case:ident),+ $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::cases::$case(crate::backends::Backend::postgres().await).await;
                }
            )+
        }
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::cases::$case(crate::backends::Backend::embedded()).await;
                }
            )+
        }
    };
}

conformance_suite!(
    searches_use_an_index_not_a_full_scan,
    counts_and_top_values_equal_the_model,
    volume_counts_equal_the_model_before_and_after_a_removal,
    a_level_the_volume_cannot_place_is_counted_from_the_events,
    rows_stored_before_the_volume_existed_are_counted_after_a_reopen,
    a_search_past_its_time_limit_is_refused_as_too_costly,
    a_search_lists_exactly_the_events_the_model_matches,
    rows_stored_before_the_searchable_text_existed_are_found_after_a_reopen,
    a_key_is_new_once_and_duplicate_after,
    a_batch_reports_exactly_the_absent_keys_as_new,
    counters_are_exact_per_shard_and_summed_over_commits,
    concurrent_commits_of_overlapping_keys_report_each_key_new_exactly_once,
    reopening_the_store_keeps_rows_and_counters,
    topics_are_listed_sorted_and_distinct,
    within_a_topic_query_follows_commit_order,
    query_filters_by_topic_source_and_time_window,
    keyset_pagination_over_several_topics_visits_every_event_once,
    payload_text_round_trips_byte_for_byte,
    timestamps_round_trip_at_microsecond_precision,
    ping_succeeds_on_a_fresh_store,
    a_commit_reports_the_shard_counter_row_after_it,
    a_commit_without_counters_stores_the_rows_and_leaves_the_counter_row_alone,
    small_commits_of_many_shards_at_once_keep_each_shards_outcomes_and_counters,
    own_counters_are_the_shard_row_as_committed,
    a_page_ends_before_its_payload_byte_budget,
    following_one_topic_returns_its_events_in_seq_order_after_a_position,
    following_every_topic_returns_each_committed_event_once_in_position_order,
    following_filters_by_source,
    a_follow_page_stops_at_its_limit_and_byte_budget_with_at_least_one_event,
    a_feed_end_is_after_everything_followable_and_before_the_next_commit,
    the_commit_signal_changes_after_each_commit,
    a_listing_inside_topic_prefixes_returns_exactly_their_events_in_full_pages,
    a_cursor_or_topic_outside_the_topic_prefixes_lists_only_events_inside,
    a_topic_prefix_matches_only_topics_that_start_with_it_byte_for_byte,
    following_every_topic_inside_topic_prefixes_returns_only_their_events_in_order,
    a_filtered_tail_that_matches_nothing_reaches_the_end_in_reads_of_bounded_size,
    matching_events_among_many_that_do_not_match_are_each_followed_once_in_order,
    a_page_cut_by_its_limit_or_byte_budget_resumes_right_after_its_last_event,
    removal_by_expiry_deletes_only_the_rows_older_than_the_retention,
    a_removal_deletes_at_most_its_limit_of_the_oldest_rows_per_call,
    a_removal_skips_a_topic_whose_first_row_is_fresh_and_leaves_other_topics_alone,
    removal_by_purge_deletes_exactly_the_rows_up_to_its_horizon,
    after_a_removal_of_the_newest_rows_and_a_reopen_no_seq_is_given_twice,
    removal_counters_survive_reopening_the_store,
    a_key_published_again_after_its_removal_is_new_again,
    the_removal_walk_pages_through_topics_in_byte_order,
    a_sweep_deletes_the_due_rows_of_every_topic_and_stops_before_the_first_fresh_one,
    a_sweep_leaves_the_topics_a_rule_covers_and_moves_past_them,
);

/// Cases that hold for one backend only.
mod postgres_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_value_postgres_cannot_hold_is_rejected_not_transient() {
        let backend = crate::backends::Backend::postgres().await;
        crate::cases::a_value_postgres_cannot_hold_is_rejected_not_transient(backend).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_cluster_view_lists_instances_and_new_topics_after_a_cursor() {
        let backend = crate::backends::Backend::postgres().await;
        crate::cases::the_cluster_view_lists_instances_and_new_topics_after_a_cursor(backend).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_follow_across_topics_waits_for_a_transaction_still_running() {
        let backend = crate::backends::Backend::postgres().await;
        crate::cases::a_follow_across_topics_waits_for_a_transaction_still_running(backend).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_only_node_is_transient_and_its_connection_leaves_the_pool() {
        let backend = crate::backends::Backend::postgres().await;
        crate::cases::a_read_only_node_is_transient_and_its_connection_leaves_the_pool(backend)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_changes_the_commit_signal_of_another_instance() {
        let backend = crate::backends::Backend::postgres().await;
        crate::cases::a_commit_changes_the_commit_signal_of_another_instance(backend).await;
    }
}

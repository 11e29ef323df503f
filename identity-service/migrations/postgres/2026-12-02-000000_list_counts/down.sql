DROP TABLE list_counts;

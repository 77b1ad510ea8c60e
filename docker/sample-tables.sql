-- Tables over the sample data the compose `loader` writes to the S3 server
-- (`hayate sample-data --out s3://hayate/sample`). The coordinator runs this
-- file at every start (HAYATE_INIT_SQL), so a replaced coordinator comes
-- back with the same tables. S3 endpoint and keys come from the
-- environment (HAYATE_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
CREATE EXTERNAL TABLE IF NOT EXISTS nation STORED AS PARQUET LOCATION 's3://hayate/sample/tpch/nation/';
CREATE EXTERNAL TABLE IF NOT EXISTS region STORED AS PARQUET LOCATION 's3://hayate/sample/tpch/region/';
CREATE EXTERNAL TABLE IF NOT EXISTS part STORED AS PARQUET LOCATION 's3://hayate/sample/tpch/part/';
CREATE EXTERNAL TABLE IF NOT EXISTS supplier STORED AS PARQUET LOCATION 's3://hayate/sample/tpch/supplier/';
CREATE EXTERNAL TABLE IF NOT EXISTS partsupp STORED AS PARQUET LOCATION 's3://hayate/sample/tpch/partsupp/';
CREATE EXTERNAL TABLE IF NOT EXISTS customer STORED AS PARQUET LOCATION 's3://hayate/sample/tpch/customer/';
CREATE EXTERNAL TABLE IF NOT EXISTS orders STORED AS PARQUET LOCATION 's3://hayate/sample/tpch/orders/';
CREATE EXTERNAL TABLE IF NOT EXISTS lineitem STORED AS PARQUET LOCATION 's3://hayate/sample/tpch/lineitem/';
-- A week of web/application logs, partitioned by day and hour of `ts`.
CREATE EXTERNAL TABLE IF NOT EXISTS logs STORED AS PARQUET PARTITIONED BY (dt, hour)
  LOCATION 's3://hayate/sample/logs/' OPTIONS ('hayate.time_column' 'ts');

-- The `retrain_months` labelled months up to and including the monitored month: what a model
-- retrained after this month's checks should learn from (see macros/months.sql).
select *
from read_csv({{ previous_month_files(var('month'), var('retrain_months'), through=true) }}, union_by_name = true)

-- The `retrain_months` labelled months before the monitored month (see macros/months.sql).
select *
from read_csv({{ previous_month_files(var('month'), var('retrain_months')) }}, union_by_name = true)

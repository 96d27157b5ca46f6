-- The outcomes reported by `chargebacks_as_of`: later chargebacks have not arrived yet.
select transaction_id, is_fraud
from {{ ref('chargebacks') }}
where reported_at <= cast('{{ var("chargebacks_as_of") }}' as date) + interval 1 day

-- January to March of the partner's logged scores, each with its outcome.
select s.*, c.is_fraud
from {{ ref('partner_scores') }} as s
join {{ ref('chargebacks') }} as c using (transaction_id)
where s.scored_at < timestamp '2017-04-01'

{#- Paths of the `count` monthly files before `month` ("YYYY_MM"), as a SQL list literal; with
    `through=true`, the `count` months ending with `month` itself. -#}
{% macro previous_month_files(month, count, through=false) -%}
  {%- set year, mon = month.split('_') | map('int') | list -%}
  {%- set last = 0 if through else 1 -%}
  {%- set paths = [] -%}
  {%- for back in range(count | int - 1 + last, last - 1, -1) -%}
    {%- set index = year * 12 + (mon - 1) - back -%}
    {%- do paths.append("'data/transactions_prepared_%04d_%02d.csv'" | format(index // 12, index % 12 + 1)) -%}
  {%- endfor -%}
  [{{ paths | join(', ') }}]
{%- endmacro %}

{#- Paths of the `count` monthly files before `month` ("YYYY_MM"), as a SQL list literal. -#}
{% macro previous_month_files(month, count) -%}
  {%- set year, mon = month.split('_') | map('int') | list -%}
  {%- set paths = [] -%}
  {%- for back in range(count | int, 0, -1) -%}
    {%- set index = year * 12 + (mon - 1) - back -%}
    {%- do paths.append("'data/transactions_prepared_%04d_%02d.csv'" | format(index // 12, index % 12 + 1)) -%}
  {%- endfor -%}
  [{{ paths | join(', ') }}]
{%- endmacro %}

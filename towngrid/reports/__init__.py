"""分级明细 drill-down reports by grid level, the big screen, and generated documents."""

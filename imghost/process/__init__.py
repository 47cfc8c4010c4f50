"""What every process of an instance shares: worker threads, memory, metrics and spool folders."""

"""Energy measurement around generation batches (see ``auditkit.energy.meter``)."""

"""Clinical standard reports: OPD census, IPD census, doctor-wise consultations,
scheme-wise patients, lab workload."""

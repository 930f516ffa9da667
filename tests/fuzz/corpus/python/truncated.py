from mvm import workload
@workload(
"""Lets accelerate run FSDP on CPU processes, for tests/test_train_smoke.py::test_fsdp2_itself_on_cpu_processes.

accelerate has FSDP on GPUs and other accelerators only: on CPU processes it drops the FSDP plugin and
trains as DDP, so no test here could reach FSDP2 (torch's fully_shard) otherwise. This lifts that
one check and nothing else: after AcceleratorState has set itself up on CPU processes (MULTI_CPU), it
takes the launcher's FSDP plugin as accelerate does on GPUs (state.py: distributed_type FSDP, the
mixed-precision policy, the plugin), in both of accelerate's shared states. The rest (sharding with
torch's fully_shard over gloo, the bf16 mixed-precision policy, the full state dict gathered for the
final save) is accelerate's, transformers' and torch's own code.

Python imports this module at start-up when its folder is on PYTHONPATH (the test sets it for the
launched processes only).
"""
import os

if os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true":
    import accelerate.state as _state
    from accelerate.utils import DistributedType

    _init = _state.AcceleratorState.__init__

    def _init_keeping_fsdp(self, *args, **kwargs):
        _init(self, *args, **kwargs)
        plugin = kwargs.get("fsdp_plugin")
        if plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
            self.distributed_type = DistributedType.FSDP
            if self._mixed_precision != "no":
                plugin.set_mixed_precision(self._mixed_precision)
            self.fsdp_plugin = plugin
            _state.PartialState._shared_state["distributed_type"] = DistributedType.FSDP

    _state.AcceleratorState.__init__ = _init_keeping_fsdp

using System.Globalization;
using Engine.Distributed;
using Engine.Kernels;
using Engine.DistributedWorker;

// Started by Tests/Distributed/MpiLaunchTests.cs as `mpirun -np 2 dotnet Engine.DistributedWorker.dll <scenario> <dir>`.
// Every rank writes what it computed to <dir>/rank<r>.txt; the test checks those files against closed forms and
// against a one-process run. Failures go through DistributedJob.Run, as in `mtl train --distributed mpi`.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
string scenario = args.Length > 0 ? args[0] : "collectives";
string directory = args.Length > 1 ? args[1] : ".";
using var communicator = MpiCommunicator.Create();
return DistributedJob.Run(communicator, Console.Error, exitCode: _ => 5, body: () =>
{
    using var backend = Device.Create("cpu");
    var output = new List<string>();
    switch (scenario)
    {
        case "collectives": Scenarios.Collectives(communicator, backend, output); break;
        case "trajectory": Trajectory.Run(communicator, backend, output); break;
        case "missing": Trajectory.Missing(communicator, backend, output); break;
        case "weighted": Trajectory.Weighted(communicator, backend, output); break;
        case "graph": GraphTrajectory.Run(communicator, backend, output); break;
        case "fail": Trajectory.FailOnLastRank(communicator, backend); break;
        case "scaling": Scaling.Steps(communicator, backend, output, args[2], int.Parse(args[3], CultureInfo.InvariantCulture), plain: args.Length > 4); break;
        case "allreduce": Scaling.AllReduce(communicator, backend, output); break;
        default: throw new ArgumentException($"unknown scenario '{scenario}'");
    }
    File.WriteAllLines(Path.Combine(directory, $"rank{communicator.Rank}.txt"), output);
    return 0;
});

namespace Engine.Distributed;

/// <summary>
/// The drift check of a data-parallel run: the hash of this rank's weights (<see cref="WeightHash"/>), compared over all
/// ranks with one all-reduce of two integers (<see cref="ICommunicator.AllAgree"/>), every N steps and at the end of
/// every epoch. It costs a download of the parameters into a host array allocated once (a host read: it is why the check
/// is periodic and not per step). Ranks whose weights differ all throw the same <see cref="CommunicatorException"/>.
/// </summary>
internal sealed class WeightCheck(MultiTaskModel model, ICommunicator communicator, int everySteps)
{
    private readonly float[] _host = new float[model.Parameters.Count];
    private long _steps;

    /// <summary>Counts a step; checks when the count reaches a multiple of N.</summary>
    public void AfterStep()
    {
        _steps++;
        if (everySteps > 0 && _steps % everySteps == 0) Check();
    }

    /// <summary>Checks now.</summary>
    public void Check()
    {
        model.Backend.Download(model.Parameters.Values, _host);
        long hash = WeightHash.Of(_host);
        if (!communicator.AllAgree(hash))
            throw new CommunicatorException($"the weights differ between ranks after step {_steps} (this rank's hash {hash:X16}): " +
                "the ranks no longer compute the same update (a non-deterministic reduction, or different data or options on some rank).");
    }
}

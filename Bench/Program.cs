Console.WriteLine("Engine.Bench: not written yet");
